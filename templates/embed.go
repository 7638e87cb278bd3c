// Package templates embeds the console's HTML templates and static files.
package templates

import (
	"embed"
	"html/template"
	"io/fs"
	"time"
)

//go:embed *.html
var pages embed.FS

//go:embed static
var static embed.FS

// funcs are the helpers the templates use.
var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
}

// Parse parses every page template.
func Parse() (*template.Template, error) {
	return template.New("").Funcs(funcs).ParseFS(pages, "*.html")
}

// Static returns the files served under /static/.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the folder exists
	}
	return sub
}
