package main

import (
	"context"
	"errors"
	"io"
)

func cmdToken(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("'token' is not implemented yet")
}
