package main

import "errors"

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
