package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// PDFOptions configure the printing to PDF.
type PDFOptions struct {
	// Chromium is the browser binary; empty: $LASTMILE_CHROMIUM, else
	// chromium, chromium-browser or google-chrome on the PATH.
	Chromium string
	// Timeout bounds the browser run (default 2 minutes).
	Timeout time.Duration
}

// chromiumFlags are the flags of a headless print on a server: no sandbox
// (containers), no GPU, and no network of the browser's own (updates, sync,
// first-run pages) — the page itself is self-contained.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
	"--hide-scrollbars", "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
}

// FindChromium returns the browser binary to print with.
func FindChromium(name string) (string, error) {
	if name == "" {
		name = os.Getenv("LASTMILE_CHROMIUM")
	}
	if name != "" {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("chromium %q not found (install it with scripts/setup, or give --chromium / LASTMILE_CHROMIUM): %v", name, err)
		}
		return p, nil
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found on the PATH (chromium, chromium-browser, google-chrome): run scripts/setup, or give --chromium / LASTMILE_CHROMIUM")
}

// PDF prints a self-contained HTML page to a PDF file with headless
// Chromium. The PDF is written next to out and renamed into place, so out
// is never half-written.
func PDF(ctx context.Context, html []byte, out string, opts PDFOptions) error {
	bin, err := FindChromium(opts.Chromium)
	if err != nil {
		return err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	dir, err := os.MkdirTemp("", "lastmile-report-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, html, 0o600); err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".*.tmp")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", out, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	args := append([]string{}, chromiumFlags...)
	args = append(args, "--user-data-dir="+filepath.Join(dir, "profile"), "--print-to-pdf="+tmp.Name(), "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	// Its own process group, so a timeout stops the browser's children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("chromium did not finish printing within %s", opts.Timeout)
	}
	st, err := os.Stat(tmp.Name())
	if runErr != nil || err != nil || st.Size() < 5 {
		tail := stderr.Bytes()
		if len(tail) > 600 {
			tail = tail[len(tail)-600:]
		}
		return fmt.Errorf("chromium could not print the report (%v): %s", runErr, bytes.TrimSpace(tail))
	}
	head := make([]byte, 5)
	if f, err := os.Open(tmp.Name()); err == nil {
		f.Read(head)
		f.Close()
	}
	if string(head) != "%PDF-" {
		return fmt.Errorf("chromium wrote something that is not a PDF")
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), abs)
}
