package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// serviceFlags are install-service's own flags.
type serviceFlags struct {
	root    string
	dryRun  bool
	force   bool
	name    string
	user    string
	binary  string
	dataDir string
	addr    string
}

var unitTemplate = template.Must(template.New("unit").Parse(`# {{.Unit}} — written by lastmile install-service ({{.Version}}).
# Settings live in {{.EnvFile}}; after editing it: systemctl restart {{.Name}}.
# systemctl reload {{.Name}} sends SIGHUP: the tile cache is emptied.
[Unit]
Description=lastmile: rural infrastructure tiles, OGC API Features and statistics
Documentation=https://github.com/lastmile/lastmile/blob/main/docs/operate.md
Wants=network-online.target
After=network-online.target postgresql.service

[Service]
Type=simple
User={{.User}}
Group={{.User}}
EnvironmentFile={{.EnvFile}}
# serve applies pending migrations on start and refuses a schema newer than
# itself; to keep a backup first, run lastmile migrate --backup FILE before.
ExecStart={{.Binary}} serve
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM to lastmile alone: it finishes requests in flight
# (LASTMILE_SHUTDOWN_GRACE) and stops its managed PostgreSQL itself.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=90
Restart=on-failure
RestartSec=5
# The data directory (managed PostgreSQL cluster) is created by systemd,
# owned by {{.User}}.
StateDirectory={{.StateDir}}
StateDirectoryMode=0750
WorkingDirectory={{.DataDir}}
LimitNOFILE=65536
# Hardening: nothing but the data directory and a private /tmp is writable.
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectControlGroups=true
RestrictSUIDSGID=true
ReadWritePaths={{.DataDir}}

[Install]
WantedBy=multi-user.target
`))

func cmdInstallService(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("install-service", out)
	var f serviceFlags
	fs.StringVar(&f.root, "root", "/", "directory to install under (for packaging or a test: files go to ROOT/etc/...)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the files instead of writing them")
	fs.BoolVar(&f.force, "force", false, "overwrite an existing environment file (the unit file is always rewritten)")
	fs.StringVar(&f.name, "name", "lastmile", "service name (unit NAME.service, environment file /etc/NAME/NAME.env)")
	fs.StringVar(&f.user, "user", "lastmile", "system user the service runs as")
	fs.StringVar(&f.binary, "binary", "/usr/local/bin/lastmile", "where the lastmile binary is installed")
	fs.StringVar(&f.dataDir, "data-dir", "/var/lib/lastmile", "data directory of the service (managed PostgreSQL cluster); must be under /var/lib (systemd StateDirectory)")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address written to the environment file (loopback: behind nginx)")
	if err := parse(fs, args); err != nil {
		return err
	}
	state, ok := strings.CutPrefix(filepath.Clean(f.dataDir), "/var/lib/")
	if !ok || state == "" {
		return fmt.Errorf("--data-dir %s: must be a directory under /var/lib (systemd creates it as StateDirectory, owned by --user)", f.dataDir)
	}
	if !filepath.IsAbs(f.binary) {
		return fmt.Errorf("--binary %s: must be an absolute path", f.binary)
	}
	unitPath := filepath.Join("/etc/systemd/system", f.name+".service")
	envPath := filepath.Join("/etc", f.name, f.name+".env")
	var unit bytes.Buffer
	v := versionString()
	if err := unitTemplate.Execute(&unit, map[string]string{
		"Unit": f.name + ".service", "Name": f.name, "Version": v, "EnvFile": envPath, "User": f.user,
		"Binary": f.binary, "DataDir": filepath.Clean(f.dataDir), "StateDir": state,
	}); err != nil {
		return err
	}
	env := envFile(f, v)

	if f.dryRun {
		fmt.Fprintf(out, "# %s\n%s\n# %s\n%s", filepath.Join(f.root, unitPath), unit.String(), filepath.Join(f.root, envPath), env)
		return nil
	}
	if err := writeAtomic(filepath.Join(f.root, unitPath), unit.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s\n", filepath.Join(f.root, unitPath))
	envDst := filepath.Join(f.root, envPath)
	if _, err := os.Stat(envDst); err == nil && !f.force {
		fmt.Fprintf(out, "kept %s (it exists; --force overwrites it)\n", envDst)
	} else {
		if err := writeAtomic(envDst, []byte(env), 0o640); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", envDst)
	}
	fmt.Fprintf(out, `
next, as root:
  useradd --system --home-dir %[3]s --shell /usr/sbin/nologin %[2]s   # once
  install -m 0755 lastmile %[4]s                                     # if not there yet
  chown root:%[2]s %[5]s                                  # the env file may hold a database password
  systemctl daemon-reload
  systemctl enable --now %[1]s
  systemctl status %[1]s; journalctl -u %[1]s -f
  sudo -u %[2]s %[4]s doctor --env-file %[5]s --service-user %[2]s
`, f.name, f.user, filepath.Clean(f.dataDir), f.binary, envPath)
	return nil
}

func versionString() string {
	var b bytes.Buffer
	cmdVersion(context.Background(), nil, &b)
	return strings.TrimSpace(b.String())
}

// envFile lists every flag of serve as its LASTMILE_* twin: the ones the
// service needs set, the rest commented out at their defaults, each with
// its help text.
func envFile(f serviceFlags, v string) string {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var sf serveFlags
	sf.register(fs)
	set := map[string]string{
		"data-dir":   filepath.Clean(f.dataDir),
		"addr":       f.addr,
		"log-format": "json",
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Environment of the %s service (written by lastmile install-service, %s).
# Every flag of lastmile serve has a twin here: LASTMILE_<FLAG>, dashes as
# underscores (see lastmile serve -h and docs/operate.md). Lines starting with
# # are defaults. After a change: systemctl restart %s.
#
# An external PostGIS instead of the managed cluster under LASTMILE_DATA_DIR:
#DATABASE_URL=postgres://lastmile:PASSWORD@db.example:5432/lastmile

`, f.name, v, f.name)
	fs.VisitAll(func(fl *flag.Flag) {
		env := "LASTMILE_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		fmt.Fprintf(&b, "# --%s: %s\n", fl.Name, strings.ReplaceAll(fl.Usage, "\n", " "))
		if fl.Name == "database-url" {
			fmt.Fprintf(&b, "#%s=\n\n", env) // DATABASE_URL above is the usual spelling
			return
		}
		if val, ok := set[fl.Name]; ok {
			fmt.Fprintf(&b, "%s=%s\n\n", env, val)
			return
		}
		fmt.Fprintf(&b, "#%s=%s\n\n", env, fl.DefValue)
	})
	return b.String()
}

// writeAtomic writes b to name through a temporary file and a rename, so a
// reader never sees half a file.
func writeAtomic(name string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return errors.New("installing " + name + ": " + err.Error())
	}
	return nil
}
