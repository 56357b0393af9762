// Package cluster manages a private PostgreSQL cluster for lastmile: created
// on first use with initdb, started with pg_ctl listening only on a Unix
// socket inside its data directory (so no TCP port can clash), and stopped on
// shutdown. When lastmile runs as root the cluster runs as the unprivileged
// "postgres" user, because PostgreSQL refuses to run as root.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Setup is the command that installs what the cluster needs.
const Setup = "scripts/setup"

// Superuser and Database are the role and database initdb creates for lastmile.
const (
	Superuser = "lastmile"
	Database  = "lastmile"
)

// maxSocketPath is the longest Unix socket path the kernel accepts (sun_path
// is 108 bytes including the terminating NUL).
const maxSocketPath = 107

// Options configure a cluster.
type Options struct {
	// Dir is the data directory. It is created when missing.
	Dir string
	// BinDir holds initdb, pg_ctl and postgres; found automatically when empty.
	BinDir string
	// Durable false turns fsync and full-page writes off: for tests only.
	Durable bool
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

// Cluster is a local PostgreSQL cluster.
type Cluster struct {
	opts Options
	cred *syscall.Credential // nil: run as the current user
}

// New checks the binaries and the data directory's owner and returns the
// cluster. It does not create or start anything.
func New(opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("cluster: no data directory given")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	if opts.BinDir == "" {
		if opts.BinDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	c := &Cluster{opts: opts}
	if os.Geteuid() == 0 {
		if c.cred, err = unprivileged(); err != nil {
			return nil, err
		}
	}
	if sock := c.SocketPath(); len(sock) > maxSocketPath {
		return nil, fmt.Errorf("data directory path is too long for a Unix socket (%d > %d bytes): %s; choose a shorter --data-dir", len(sock), maxSocketPath, sock)
	}
	if err := c.checkOwner(); err != nil {
		return nil, err
	}
	return c, nil
}

// FindBinDir locates the PostgreSQL server binaries: `pg_config --bindir`
// when it has initdb, else the newest /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if isFile(filepath.Join(dir, "initdb")) && isFile(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, dir := range dirs {
		if isFile(filepath.Join(dir, "initdb")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, pg_ctl) not found via pg_config or in /usr/lib/postgresql/*/bin: run %s (Debian: apt-get install postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting; macOS: brew install postgresql@15 postgis pgrouting), or set DATABASE_URL to use an existing PostGIS", Setup)
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// unprivileged returns the credentials of the "postgres" system user.
func unprivileged() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root; no unprivileged 'postgres' user exists to run it: run %s (it installs PostgreSQL, which creates that user) or run lastmile as a normal user", Setup)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// SocketPath returns the path of the cluster's Unix socket.
func (c *Cluster) SocketPath() string { return filepath.Join(c.opts.Dir, ".s.PGSQL.5432") }

// URL returns the connection URL of the lastmile database over the socket.
func (c *Cluster) URL() string { return c.DatabaseURL(Database) }

// DatabaseURL returns the connection URL of database name over the socket.
func (c *Cluster) DatabaseURL(name string) string {
	q := url.Values{"host": {c.opts.Dir}, "user": {Superuser}, "sslmode": {"disable"}}
	return "postgres:///" + url.PathEscape(name) + "?" + q.Encode()
}

func (c *Cluster) initialized() bool {
	return isFile(filepath.Join(c.opts.Dir, "PG_VERSION"))
}

// checkOwner refuses a data directory owned by someone other than the user
// the cluster runs as: PostgreSQL would fail later with a less clear message.
func (c *Cluster) checkOwner() error {
	st, err := os.Stat(c.opts.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data directory %s is not usable: %v", c.opts.Dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data directory %s exists and is not a directory", c.opts.Dir)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || !c.initialized() {
		return nil
	}
	want := uint32(os.Geteuid())
	if c.cred != nil {
		want = c.cred.Uid
	}
	if sys.Uid != want {
		return fmt.Errorf("data directory %s is owned by uid %d, but the cluster runs as uid %d: use another --data-dir or fix its owner (chown -R)", c.opts.Dir, sys.Uid, want)
	}
	return nil
}

// Start creates the cluster on first use, starts it (or finds it already
// running) and waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	fresh := !c.initialized()
	if fresh {
		if err := c.initdb(ctx); err != nil {
			return err
		}
	} else if c.Running(ctx) {
		c.opts.Log("PostgreSQL already running in %s", c.opts.Dir)
		return nil
	}
	c.opts.Log("starting PostgreSQL in %s", c.opts.Dir)
	logFile := filepath.Join(c.opts.Dir, "postmaster.log")
	// After a crash (kill -9 of the postmaster) its lock file and the
	// orphaned backends' shared memory block a start until they are gone:
	// retry for a while, as an init system would.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.run(ctx, "pg_ctl", "-D", c.opts.Dir, "-l", logFile, "-w", "-t", "60", "start")
		if err == nil {
			break
		}
		if !isFile(filepath.Join(c.opts.Dir, "postmaster.pid")) || time.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL did not start in %s: %v; see %s", c.opts.Dir, err, logFile)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if fresh {
		_, err := c.run(ctx, "psql", "-X", "-q", "-h", c.opts.Dir, "-U", Superuser, "-d", "postgres",
			"-c", "CREATE DATABASE "+Database)
		if err != nil {
			return fmt.Errorf("creating database %s: %w", Database, err)
		}
	}
	return nil
}

// Running reports whether the cluster's server is running and accepts
// connections on its socket (a killed postmaster not yet reaped still
// passes pg_ctl status).
func (c *Cluster) Running(ctx context.Context) bool {
	if !c.initialized() {
		return false
	}
	if _, err := c.run(ctx, "pg_ctl", "-D", c.opts.Dir, "status"); err != nil {
		return false
	}
	conn, err := net.DialTimeout("unix", c.SocketPath(), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// Stop shuts the server down (fast mode: rolls back open transactions) and
// waits for it to exit.
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.Running(ctx) {
		return nil
	}
	c.opts.Log("stopping PostgreSQL in %s", c.opts.Dir)
	if _, err := c.run(ctx, "pg_ctl", "-D", c.opts.Dir, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("stopping PostgreSQL in %s: %w", c.opts.Dir, err)
	}
	return nil
}

// Standby makes dir a streaming replica (hot standby) of the running
// cluster c with pg_basebackup -R, and returns it, not started: Start
// starts it. For trying and testing read replicas locally.
func (c *Cluster) Standby(ctx context.Context, dir string) (*Cluster, error) {
	s, err := New(Options{Dir: dir, BinDir: c.opts.BinDir, Durable: c.opts.Durable, Log: c.opts.Log})
	if err != nil {
		return nil, err
	}
	if s.initialized() {
		return nil, fmt.Errorf("standby: %s already holds a cluster", s.opts.Dir)
	}
	if err := os.MkdirAll(s.opts.Dir, 0o700); err != nil {
		return nil, err
	}
	if s.cred != nil {
		if err := makeTraversable(filepath.Dir(s.opts.Dir)); err != nil {
			return nil, err
		}
		if err := os.Chown(s.opts.Dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return nil, err
		}
	}
	c.opts.Log("making a standby of %s in %s", c.opts.Dir, s.opts.Dir)
	if _, err := c.run(ctx, "pg_basebackup", "-h", c.opts.Dir, "-U", Superuser, "-D", s.opts.Dir,
		"-R", "-X", "stream", "-c", "fast"); err != nil {
		return nil, fmt.Errorf("standby: %w", err)
	}
	// The socket lives in the data directory: the copy has the primary's
	// lock file (and log), and its postgresql.conf names the primary's
	// socket directory.
	for _, name := range []string{".s.PGSQL.5432.lock", "postmaster.log"} {
		if err := os.Remove(filepath.Join(s.opts.Dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	f, err := os.OpenFile(filepath.Join(s.opts.Dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	_, err = fmt.Fprintf(f, "\n# standby\nunix_socket_directories = '%s'\nhot_standby = on\n", strings.ReplaceAll(s.opts.Dir, "'", "''"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return s, err
}

func (c *Cluster) initdb(ctx context.Context) error {
	c.opts.Log("creating PostgreSQL cluster in %s", c.opts.Dir)
	if err := os.MkdirAll(c.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if c.cred != nil {
		// The postgres user must reach the directory through its parents.
		if err := makeTraversable(filepath.Dir(c.opts.Dir)); err != nil {
			return err
		}
		if err := os.Chown(c.opts.Dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("giving the data directory to the postgres user: %w", err)
		}
	}
	if err := os.Chmod(c.opts.Dir, 0o700); err != nil {
		return err
	}
	if _, err := c.run(ctx, "initdb", "-D", c.opts.Dir, "-U", Superuser, "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-instructions"); err != nil {
		os.RemoveAll(c.opts.Dir) // a half-made cluster would be reused next time
		return fmt.Errorf("initdb failed in %s: %w", c.opts.Dir, err)
	}
	conf := []string{
		"# written by lastmile",
		"listen_addresses = ''",
		fmt.Sprintf("unix_socket_directories = '%s'", strings.ReplaceAll(c.opts.Dir, "'", "''")),
		"unix_socket_permissions = 0700",
		"max_connections = 100",
		"shared_buffers = 256MB",
		"work_mem = 16MB",
		"maintenance_work_mem = 256MB",
		"logging_collector = off",
	}
	if !c.opts.Durable {
		conf = append(conf, "fsync = off", "synchronous_commit = off", "full_page_writes = off")
	}
	f, err := os.OpenFile(filepath.Join(c.opts.Dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("\n" + strings.Join(conf, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return nil
}

// makeTraversable adds o+x to dir and its parents where missing, so the
// unprivileged server can reach its data directory.
func makeTraversable(dir string) error {
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, st.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("making %s reachable for the postgres user: %w", d, err)
			}
		}
	}
	return nil
}

// run runs a PostgreSQL binary as the cluster's user and returns its output;
// the error carries the last lines the command printed.
func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	bin := filepath.Join(c.opts.BinDir, name)
	if !isFile(bin) {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C in a terminal reaches lastmile, not the server
	if c.cred != nil {
		cmd.SysProcAttr.Credential = c.cred
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.Bytes(), fmt.Errorf("%s: %v: %s", name, err, lastLines(out.String(), 3))
	}
	return out.Bytes(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
