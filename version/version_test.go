package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	// A test binary is not stamped and carries no VCS information.
	i := Get()
	if i.Version != "dev" || i.Commit != "unknown" || i.Date != "unknown" || i.GoVersion != runtime.Version() || i.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("unstamped: %+v", i)
	}
	version, commit, date = "v1.2.3", "abc123", "2026-12-02T00:00:00Z"
	defer func() { version, commit, date = "", "", "" }()
	i = Get()
	if s := i.String(); !strings.HasPrefix(s, "lastmile v1.2.3 commit abc123 built 2026-12-02T00:00:00Z go") {
		t.Errorf("stamped: %q", s)
	}
}
