package main

import (
	"io"
	"net/url"
	"os"
	"reflect"
	"testing"
)

func TestParamFlags(t *testing.T) {
	ps := []paramFlag{
		{"cell-m", "cell_m", "cell size"},
		{"d-max", "d_max_m", "distances"},
		{"limit", "limit", "limit"},
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want url.Values
	}{
		{"none given", nil, nil, url.Values{}},
		{"flag names become parameter names", []string{"--cell-m", "500", "--d-max=road=5000,water=3000"}, nil,
			url.Values{"cell_m": {"500"}, "d_max_m": {"road=5000,water=3000"}}},
		{"an empty value is still given", []string{"--limit", ""}, nil, url.Values{"limit": {""}}},
		{"the last of a repeated flag wins", []string{"--limit", "5", "--limit", "7"}, nil, url.Values{"limit": {"7"}}},
		{"environment twin", nil, map[string]string{"LASTMILE_CELL_M": "1000"}, url.Values{"cell_m": {"1000"}}},
		{"the command line beats the twin", []string{"--cell-m", "250"}, map[string]string{"LASTMILE_CELL_M": "1000"}, url.Values{"cell_m": {"250"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := newFlagSet("test", io.Discard)
			params := paramFlags(fs, ps)
			other := fs.String("other", "", "not a parameter")
			if err := parse(fs, append(tt.args, "--other", "x")); err != nil {
				t.Fatal(err)
			}
			if got := params(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("params() = %v, want %v", got, tt.want)
			}
			if *other != "x" {
				t.Errorf("--other = %q, want x", *other)
			}
		})
	}
}

// TestRequireIfMatchFlag: serve's --require-if-match and its environment
// twin LASTMILE_REQUIRE_IF_MATCH reach the server's options.
func TestRequireIfMatchFlag(t *testing.T) {
	tests := []struct {
		args []string
		env  string // "" for unset
		want bool
	}{
		{nil, "", false},
		{[]string{"--require-if-match"}, "", true},
		{nil, "true", true},
		{[]string{"--require-if-match=false"}, "true", false},
	}
	for _, tt := range tests {
		t.Setenv("LASTMILE_REQUIRE_IF_MATCH", tt.env)
		if tt.env == "" {
			os.Unsetenv("LASTMILE_REQUIRE_IF_MATCH")
		}
		fs := newFlagSet("serve", io.Discard)
		var f serveFlags
		f.register(fs)
		if err := parse(fs, tt.args); err != nil {
			t.Fatal(err)
		}
		if f.server.RequireIfMatch != tt.want {
			t.Errorf("args %v env %q: RequireIfMatch %v, want %v", tt.args, tt.env, f.server.RequireIfMatch, tt.want)
		}
	}
}
