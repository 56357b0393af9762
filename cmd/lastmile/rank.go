package main

import (
	"context"
	"errors"
	"io"
)

func cmdRank(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("'rank' is not implemented yet")
}
