package main

import (
	"context"
	"errors"
	"io"
)

func cmdStats(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("'stats' is not implemented yet")
}
