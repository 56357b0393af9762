package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestReportCommand(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	pool, err := postgis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := demo.Load(ctx, pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	html := filepath.Join(dir, "report.html")
	var out bytes.Buffer
	if err := run(ctx, []string{"report", "--database-url", url, "--admin-code", demo.CountyCode, "--as-of", "2015-12-31", "--lang", "zh", "--out", html}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, w := range []string{"report: figures in ", "report: map (", "report: wrote " + html} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("progress lacks %q:\n%s", w, out.String())
		}
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`<html lang="zh-CN">`, "商河县", "数据截至 2015-12-31", `data-as-of="2015-12-31"`, "<svg"} {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("the HTML lacks %q", w)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no code", []string{"--out", "x.pdf"}, "--admin-code and --out are required"},
		{"bad extension", []string{"--admin-code", demo.CountyCode, "--out", "x.docx"}, "must end in .pdf or .html"},
		{"bad date", []string{"--admin-code", demo.CountyCode, "--as-of", "2015-02-30", "--out", filepath.Join(dir, "x.html")}, "--as-of: must be a date YYYY-MM-DD"},
		{"bad lang", []string{"--admin-code", demo.CountyCode, "--lang", "fr", "--out", filepath.Join(dir, "x.html")}, "--lang: must be one of en, zh"},
		{"unknown area", []string{"--admin-code", "999999000000", "--out", filepath.Join(dir, "x.html")}, "no admin area with code 999999000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(ctx, append([]string{"report", "--database-url", url}, tc.args...), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.html")); !os.IsNotExist(err) {
		t.Errorf("a failed report left a file: %v", err)
	}
}
