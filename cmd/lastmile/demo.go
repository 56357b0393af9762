package main

import (
	"context"
	"errors"
	"io"
)

func cmdDemo(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("'demo' is not implemented yet")
}
