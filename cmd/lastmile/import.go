package main

import (
	"context"
	"errors"
	"io"
)

func cmdImport(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("'import' is not implemented yet")
}
