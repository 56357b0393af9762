package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/cluster"
)

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("lastmile "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// parse parses args, then fills every flag not given on the command line
// from its environment twin LASTMILE_<NAME> (dashes become underscores).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "LASTMILE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !given[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", env, v, e)
			}
		}
	})
	return err
}

// paramFlag is a command-line flag that sets one query parameter of an
// HTTP endpoint, so that a subcommand takes its endpoint's parameters.
type paramFlag struct{ flag, param, usage string }

// paramFlags defines each of ps on fs as a string flag and returns a
// function that, once fs is parsed, gives the parameters of the flags that
// were set (on the command line or by their environment twins).
func paramFlags(fs *flag.FlagSet, ps []paramFlag) func() url.Values {
	values := make([]string, len(ps))
	for i, p := range ps {
		fs.StringVar(&values[i], p.flag, "", p.usage)
	}
	return func() url.Values {
		q := url.Values{}
		fs.Visit(func(f *flag.Flag) {
			for i, p := range ps {
				if p.flag == f.Name {
					q.Set(p.param, values[i])
				}
			}
		})
		return q
	}
}

// dbFlags select the database: an external one by URL, or the managed local
// cluster under the data directory.
type dbFlags struct {
	url     string
	dataDir string
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.url, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL of an external PostGIS (env DATABASE_URL); empty: the managed local cluster")
	fs.StringVar(&d.dataDir, "data-dir", ".lastmile", "parent directory of the managed cluster (pg/ inside it)")
}

// database is an open pool and, when this process started the managed
// cluster, that cluster (stopped on Close).
type database struct {
	Pool      *pgxpool.Pool
	cluster   *cluster.Cluster
	ownerFile string
}

// open starts the managed cluster when no URL is given, connects, checks
// the extensions and applies pending migrations. A managed cluster that is
// already running for another live lastmile process (its pid is in
// <data-dir>/pg.owner) is used and left running on Close; one whose owner
// died (kill -9) is adopted and stopped on Close.
func (d *dbFlags) open(ctx context.Context, log *slog.Logger) (*database, error) {
	db, err := d.connect(ctx, log)
	if err != nil {
		return nil, err
	}
	applied, err := postgis.Migrate(ctx, db.Pool)
	if err != nil {
		db.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	for _, name := range applied {
		log.Info("applied migration", "name", name)
	}
	return db, nil
}

// connect is open without the migrations: it starts the managed cluster
// when no URL is given, connects and checks the extensions.
func (d *dbFlags) connect(ctx context.Context, log *slog.Logger) (*database, error) {
	db, err := d.connectNoCheck(ctx, log)
	if err != nil {
		return nil, err
	}
	if err := postgis.CheckExtensions(ctx, db.Pool); err != nil {
		db.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return db, nil
}

// connectNoCheck is connect without the extension check (doctor reports
// missing extensions itself).
func (d *dbFlags) connectNoCheck(ctx context.Context, log *slog.Logger) (*database, error) {
	db := &database{}
	url := d.url
	if url == "" {
		c, err := cluster.New(cluster.Options{
			Dir: filepath.Join(d.dataDir, "pg"), Durable: true,
			Log: func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) },
		})
		if err != nil {
			return nil, err
		}
		ownerFile := filepath.Join(d.dataDir, "pg.owner")
		if !c.Running(ctx) || !ownerAlive(ownerFile) {
			db.cluster = c
		}
		if err := c.Start(ctx); err != nil {
			return nil, err
		}
		if db.cluster != nil {
			db.ownerFile = ownerFile
			if err := os.WriteFile(ownerFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
				return nil, fmt.Errorf("recording the cluster's owner: %w", err)
			}
		}
		url = c.URL()
	}
	pool, err := postgis.Open(ctx, url)
	if err != nil {
		db.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	db.Pool = pool
	return db, nil
}

// Close closes the pool and stops the managed cluster, if any.
func (db *database) Close(ctx context.Context) {
	if db.Pool != nil {
		db.Pool.Close()
	}
	if db.cluster != nil {
		db.cluster.Stop(ctx)
		os.Remove(db.ownerFile)
	}
}

// ownerAlive reports whether the pid in file is a live process (this one
// included: the cluster is then already owned here).
func ownerAlive(file string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	return pid == os.Getpid() || syscall.Kill(pid, 0) == nil
}

// newLogger returns the process logger: text on stderr.
func newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// logFlags choose the log format of the long-running commands.
type logFlags struct{ format string }

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.format, "log-format", "text", "log format on stderr: text (key=value) or json (one JSON object a line, for journald/Loki/Elasticsearch)")
}

// logger returns the logger on stderr in the chosen format.
func (l *logFlags) logger() (*slog.Logger, error) {
	return loggerTo(os.Stderr, l.format)
}

func loggerTo(w io.Writer, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
