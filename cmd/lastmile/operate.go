package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// operateCommands are the commands for running lastmile as a service.
func operateCommands() map[string]command {
	return map[string]command{
		"version":         {"print the version, commit and build date", cmdVersion},
		"doctor":          {"check the database, extensions, migrations, page libraries and data directory; print what to fix", cmdDoctor},
		"install-service": {"write a systemd unit and its environment file, print the systemctl commands", cmdInstallService},
	}
}

// exitError is an error with its own exit status (e.g. 2 for "migrations
// pending" from migrate --check, so a script tells it from a failure).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process exit status for err.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// withEnvFile handles --env-file FILE in args (doctor, migrate): it sets the
// variables FILE assigns (KEY=VALUE lines as systemd's EnvironmentFile reads
// them; # comments, optional quotes) that are not already set, so these
// commands see the service's configuration, and returns args without it.
func withEnvFile(args []string) ([]string, error) {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		var file string
		switch {
		case a == "--env-file" || a == "-env-file":
			if i+1 >= len(args) {
				return nil, errors.New("--env-file needs a file (e.g. /etc/lastmile/lastmile.env)")
			}
			file = args[i+1]
			i++
		case strings.HasPrefix(a, "--env-file=") || strings.HasPrefix(a, "-env-file="):
			_, file, _ = strings.Cut(a, "=")
		default:
			rest = append(rest, a)
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %v", err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" || strings.ContainsAny(k, " \t") {
				return nil, fmt.Errorf("%s:%d: not KEY=VALUE: %q", file, n+1, line)
			}
			v = strings.TrimSpace(v)
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
				v = v[1 : len(v)-1]
			}
			if _, set := os.LookupEnv(k); !set {
				os.Setenv(k, v)
			}
		}
	}
	return rest, nil
}
