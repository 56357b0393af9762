package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

const tokenUsage = `usage:
  lastmile token create --name "Water bureau" --scopes write:water_pipelines,write:facilities
  lastmile token list
  lastmile token revoke ID|PREFIX

Scopes: read (reads when the server runs with --private), write:<layer>, admin (everything).`

// cmdToken creates, lists and revokes API tokens.
func cmdToken(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(out, tokenUsage)
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("token "+sub, out)
	var db dbFlags
	db.register(fs)
	var name, scopes string
	switch sub {
	case "create":
		fs.StringVar(&name, "name", "", "who uses the token (shown as the actor in the edit history)")
		fs.StringVar(&scopes, "scopes", "", "comma-separated scopes: read, metrics, admin, write:<layer>")
	case "list", "revoke":
	default:
		return fmt.Errorf("unknown token command %q\n%s", sub, tokenUsage)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if sub == "revoke" && fs.NArg() != 1 {
		return fmt.Errorf("token revoke needs one token id or prefix (see lastmile token list)")
	}
	if sub != "revoke" && fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), tokenUsage)
	}
	var scopeList []string
	if sub == "create" {
		for _, s := range strings.Split(scopes, ",") {
			if s = strings.TrimSpace(s); s != "" {
				scopeList = append(scopeList, s)
			}
		}
		// Check before starting a database, so mistakes are quick to fix.
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("token create needs --name (it is the actor in the edit history)")
		}
		if err := postgis.CheckScopes(layer.Default(), scopeList); err != nil {
			return err
		}
	}
	log := newLogger()
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	tokens := postgis.NewTokens(d.Pool, layer.Default())
	switch sub {
	case "create":
		tok, secret, err := tokens.Create(ctx, name, scopeList)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created token %d %q (prefix %s) with scopes %s\n\n  %s\n\n", tok.ID, tok.Name, tok.Prefix, strings.Join(tok.Scopes, ","), secret)
		fmt.Fprintln(out, "This is the only time the token is shown; it is stored as a hash. Use it as")
		fmt.Fprintln(out, "  Authorization: Bearer "+secret)
	case "list":
		list, err := tokens.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tSCOPES\tCREATED\tLAST USED\tREVOKED")
		for _, t := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Prefix, t.Name, strings.Join(t.Scopes, ","),
				t.CreatedAt.UTC().Format(time.DateTime), when(t.LastUsedAt), when(t.RevokedAt))
		}
		return tw.Flush()
	case "revoke":
		tok, err := tokens.Revoke(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked token %d %q (prefix %s)\n", tok.ID, tok.Name, tok.Prefix)
	}
	return nil
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.DateTime)
}
