package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// docRow is one row of a markdown table, with its cells trimmed.
type docRow []string

// docTables returns the rows of docs/configuration.md whose first cell
// names a ZOOMBROKER_ variable, by that variable.
func docTables(doc string) map[string]docRow {
	rows := map[string]docRow{}
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "| `ZOOMBROKER_") {
			continue
		}
		var cells docRow
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows[strings.Trim(cells[0], "`")] = cells
	}
	return rows
}

// docProblems compares the settings table of the code with the tables of
// the configuration doc: every setting has a row with its flag, its
// default (the same text the code resolves when the setting is unset) and,
// for durations, the word duration. Every secret has a file row, and the
// doc lists no setting the code lacks.
func docProblems(doc string, table []setting) []string {
	rows := docTables(doc)
	var problems []string
	known := map[string]bool{}

	for _, s := range table {
		known[s.env] = true
		row, ok := rows[s.env]
		if !ok || len(row) != 4 {
			problems = append(problems, fmt.Sprintf("%s has no row of four cells in the settings table", s.env))
			continue
		}
		if want := "`--" + s.flag + "`"; row[1] != want {
			problems = append(problems, fmt.Sprintf("%s: flag cell = %s; want %s", s.env, row[1], want))
		}

		wantDefault := "none"
		if s.def != "" {
			wantDefault = "`" + s.def + "`"
		}
		if !strings.HasPrefix(row[2], wantDefault) {
			problems = append(problems, fmt.Sprintf("%s: default cell = %s; want it to start with %s", s.env, row[2], wantDefault))
		}

		if s.arg == "DURATION" {
			if _, err := time.ParseDuration(s.def); s.def != "" && err != nil {
				problems = append(problems, fmt.Sprintf("%s: default %q in the code is not a Go duration", s.env, s.def))
			}
			if !strings.Contains(row[3], "duration") {
				problems = append(problems, fmt.Sprintf("%s: meaning cell = %q; want it to say the value is a duration", s.env, row[3]))
			}
		}

		if s.secret {
			known[s.env+fileSuffix] = true
			fileRow, ok := rows[s.env+fileSuffix]
			if !ok || len(fileRow) < 2 || fileRow[1] != "`--"+s.flag+"-file`" {
				problems = append(problems, fmt.Sprintf("%s has no row with %s in the file table", s.env+fileSuffix, "--"+s.flag+"-file"))
			}
		}
	}

	for env := range rows {
		if !known[env] {
			problems = append(problems, fmt.Sprintf("the doc lists %s, which is not a setting", env))
		}
	}
	return problems
}

func readConfigDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDocsMatchSettings(t *testing.T) {
	for _, p := range docProblems(readConfigDoc(t), settings) {
		t.Errorf("docs/configuration.md: %s", p)
	}
}

// TestDocsCheckCatchesDrift shows that docProblems fails for the changes a
// developer could make to the code without touching the doc.
func TestDocsCheckCatchesDrift(t *testing.T) {
	doc := readConfigDoc(t)
	grace := settingFor(envShutdownGrace)

	tests := []struct {
		name    string
		changed setting
		want    string
	}{
		{name: "new setting", changed: setting{env: "ZOOMBROKER_NEW_THING", flag: "new-thing", arg: "X", help: "x"},
			want: "ZOOMBROKER_NEW_THING has no row"},
		{name: "new default", changed: setting{env: grace.env, flag: grace.flag, def: "45s", arg: grace.arg},
			want: "want it to start with `45s`"},
		{name: "new flag", changed: setting{env: grace.env, flag: "grace", def: grace.def, arg: grace.arg},
			want: "want `--grace`"},
		{name: "now secret", changed: setting{env: grace.env, flag: grace.flag, def: grace.def, arg: grace.arg, secret: true},
			want: "ZOOMBROKER_SHUTDOWN_GRACE_FILE has no row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var table []setting
			replaced := false
			for _, s := range settings {
				if s.env == tt.changed.env {
					s, replaced = tt.changed, true
				}
				table = append(table, s)
			}
			if !replaced {
				table = append(table, tt.changed)
			}

			problems := docProblems(doc, table)
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p, tt.want)
			}
			if !found {
				t.Errorf("docProblems() = %q; want a problem containing %q", problems, tt.want)
			}
		})
	}
}

// TestDockerfile checks what CI cannot run without a Docker engine: the
// image runs as a user other than root and checks its health with the
// healthcheck command, which must exist.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var user, health string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "USER "); ok {
			user = strings.TrimSpace(rest)
		}
		if strings.HasPrefix(line, "HEALTHCHECK ") {
			health = line
		}
		if strings.HasPrefix(line, "  CMD ") && health != "" && !strings.Contains(health, "CMD") {
			health += line
		}
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("Dockerfile USER = %q; want a user other than root", user)
	}
	if !strings.Contains(health, `"/zoombroker", "healthcheck"`) {
		t.Errorf("Dockerfile HEALTHCHECK = %q; want it to run /zoombroker healthcheck", health)
	}
	if res := runCLI(t, nil, "", "help", "healthcheck"); res.code != 0 {
		t.Errorf("help healthcheck exit code = %d; want 0", res.code)
	}
}
