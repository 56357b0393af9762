package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/lastmile/lastmile/version"
)

func cmdVersion(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("version", out)
	asJSON := fs.Bool("json", false, "print the build information as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	v := version.Get()
	if *asJSON {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(out, string(b))
		return nil
	}
	fmt.Fprintln(out, v)
	return nil
}
