// Package version is what this binary is: its release version, the commit it
// was built from and when. `make build` and `make release` stamp them in with
// -ldflags "-X github.com/lastmile/lastmile/version.version=…"; a plain
// `go build` in a git checkout falls back to the VCS information Go records
// (commit, commit time, modified), so even an unstamped binary names its
// commit.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped by -ldflags -X (see Makefile). Empty when not stamped.
var (
	version string // e.g. v0.3.0 or v0.3.0-4-gf8b7849-dirty (git describe)
	commit  string // full commit hash
	date    string // build date, RFC 3339 UTC
)

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	// Modified: built from a working tree with uncommitted changes (from the
	// VCS information; false when unknown).
	Modified bool `json:"modified,omitempty"`
}

// Get returns the binary's build information.
func Get() Info {
	i := Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Commit == "" {
					i.Commit = s.Value
				}
			case "vcs.time":
				if i.Date == "" {
					i.Date = s.Value
				}
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	if i.Date == "" {
		i.Date = "unknown"
	}
	return i
}

// String is the one line `lastmile version` prints.
func (i Info) String() string {
	mod := ""
	if i.Modified {
		mod = " (modified)"
	}
	return fmt.Sprintf("lastmile %s commit %s%s built %s %s %s", i.Version, i.Commit, mod, i.Date, i.GoVersion, i.Platform)
}
