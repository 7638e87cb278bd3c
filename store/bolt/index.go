package bolt

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// identityValue returns the part of the Zoom identity that FindAccount
// matches for app: the user id for AppZoom, the account id for
// AppZoomAdmin, and "" for any other app.
func identityValue(app store.App, zoom store.ZoomIdentity) string {
	switch app {
	case store.AppZoom:
		return zoom.UserID
	case store.AppZoomAdmin:
		return zoom.AccountID
	}
	return ""
}

// identityPrefix returns the key prefix of every account of app with the
// identity value: app 0x00, the value's length as 4 big-endian bytes, then
// the value. The length keeps one value from being a prefix of another.
func identityPrefix(app store.App, value string) []byte {
	k := make([]byte, 0, len(app)+1+4+len(value))
	k = append(k, app...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint32(k, uint32(len(value)))
	return append(k, value...)
}

// identityKey returns the identity index key of a, or nil when FindAccount
// must not find a: it is revoked or has no identity value.
func identityKey(a store.Account) []byte {
	value := identityValue(a.App, a.Zoom)
	if value == "" || a.Status == store.StatusRevoked {
		return nil
	}
	return append(identityPrefix(a.App, value), a.ID...)
}

// dueTimeLen is the length of the time part of a refresh index key.
const dueTimeLen = 8

// Times outside the range of int64 Unix nanoseconds (years 1677 to 2262)
// sort as the nearest end of the range.
var (
	minDueTime = time.Unix(0, math.MinInt64)
	maxDueTime = time.Unix(0, math.MaxInt64)
)

// dueTime encodes t as Unix nanoseconds, big-endian with the sign bit
// flipped, so that byte order is time order, times before 1970 included.
func dueTime(t time.Time) [dueTimeLen]byte {
	var nanos int64
	switch {
	case t.Before(minDueTime):
		nanos = math.MinInt64
	case t.After(maxDueTime):
		nanos = math.MaxInt64
	default:
		nanos = t.UnixNano()
	}

	var k [dueTimeLen]byte
	binary.BigEndian.PutUint64(k[:], uint64(nanos)^(1<<63))
	return k
}

// dueKey returns the refresh index key of a, or nil when the refresher must
// not pick it up: it is not active or has no NextRefreshAt.
func dueKey(a store.Account) []byte {
	if a.Status != store.StatusActive || a.NextRefreshAt.IsZero() {
		return nil
	}
	t := dueTime(a.NextRefreshAt)
	return append(t[:], a.ID...)
}
