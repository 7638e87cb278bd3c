package server

import (
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zoombroker/zoombroker/broker/audit"
	"github.com/zoombroker/zoombroker/store"
)

// Backuper writes a consistent copy of the whole store, as the bbolt
// store's WriteTo does.
type Backuper interface {
	WriteTo(w io.Writer) (int64, error)
}

// registerOps adds the routes for operators' tools: the metrics when this
// listener serves them, and the online backup.
func (s *Server) registerOps(e *echo.Echo) {
	if s.cfg.ServeMetrics && s.cfg.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.cfg.Metrics.Handler()))
	}
	e.GET("/ops/backup", s.backup, s.audited(audit.ActionBackup, true), s.requireAPIKey, s.requireUnlimited)
}

// backup streams a copy of the store, for `zoombroker backup` while the
// broker runs. The copy holds the tokens sealed, so it is useless without
// the encryption keys.
// It also holds API key hashes and operator password hashes, so only a key
// without app or account limits may download it.
func (s *Server) backup(c echo.Context) error {
	if s.cfg.Backup == nil {
		return newError(http.StatusNotImplemented, "backup_unsupported",
			"This store cannot be copied through the broker; back up the database with its own tools, such as pg_dump for PostgreSQL.")
	}
	key := c.Get(ctxAPIKey).(store.APIKey)

	// A large store takes longer to send than the server's write timeout.
	if err := http.NewResponseController(c.Response()).SetWriteDeadline(time.Time{}); err != nil {
		s.log.Warn("lift write deadline for backup failed", "err", err)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/octet-stream")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="zoombroker.db"`)
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)

	n, err := s.cfg.Backup.WriteTo(c.Response())
	if err != nil {
		s.log.Error("backup failed", "key_id", key.ID, "bytes", n, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
		// The status line is gone already. Aborting the response breaks
		// the chunked body, so the client sees a failed transfer rather
		// than a short file.
		panic(http.ErrAbortHandler)
	}
	s.log.Info("backup sent", "key_id", key.ID, "bytes", n)
	return nil
}
