package ingest

import (
	"context"
	"encoding/binary"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lastmile/lastmile/postgis/pgsql"
)

// copyStream is the binary COPY data of rows: the stage's columns, or,
// for the layer's table, the same but row_no. Its Read runs src (in
// pgconn's sending goroutine, while the caller waits for the COPY).
type copyStream struct {
	m      *pgtype.Map
	oids   []uint32 // of the stage's columns
	src    func() ([]any, error)
	table  bool      // leave out row_no
	spool  *spool    // gets every row as the stage's, when set
	replay io.Reader // stage rows to send first, when set
	buf    []byte    // encoded, not yet read
	pos    int       // read up to here
	state  int       // 0 header, 1 replay, 2 rows, 3 done
	err    error     // src's or an encoding error
}

// newCopyStream returns a stream of src's rows for s, typed as the
// layer's table's columns.
func (s *staging) newCopyStream(ctx context.Context, tx pgx.Tx, src func() ([]any, error)) (*copyStream, error) {
	cols := s.copyColumns()[1:]
	for i, c := range cols {
		cols[i] = pgsql.Ident(c)
	}
	sd, err := tx.Conn().PgConn().Prepare(ctx, "", `SELECT `+strings.Join(cols, ", ")+` FROM `+pgsql.Table(s.layer), nil)
	if err != nil {
		return nil, err
	}
	oids := []uint32{pgtype.Int4OID}
	for _, f := range sd.Fields {
		oids = append(oids, f.DataTypeOID)
	}
	return &copyStream{m: tx.Conn().TypeMap(), oids: oids, src: src}, nil
}

// run copies the stream into table's cols. Its error is src's when src
// failed (PostgreSQL reports only that the COPY was aborted).
func (c *copyStream) run(ctx context.Context, tx pgx.Tx, table string, cols []string) (int64, error) {
	for i, col := range cols {
		cols[i] = pgsql.Ident(col)
	}
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, c, `COPY `+table+` (`+strings.Join(cols, ", ")+`) FROM STDIN (FORMAT binary)`)
	if c.err != nil {
		return 0, c.err
	}
	return tag.RowsAffected(), err
}

func (c *copyStream) Read(p []byte) (int, error) {
	for c.pos == len(c.buf) {
		c.buf, c.pos = c.buf[:0], 0
		switch c.state {
		case 0:
			c.buf = append(c.buf, "PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000"...)
			c.state = 1
		case 1:
			if c.replay == nil {
				c.state = 2
				continue
			}
			n, err := c.replay.Read(p)
			if err == io.EOF {
				c.state = 2
			} else if err != nil {
				c.err = err
				return n, err
			}
			if n > 0 {
				return n, nil
			}
		case 2:
			if err := c.fill(); err != nil {
				c.err = err
				return 0, err
			}
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, c.buf[c.pos:])
	c.pos += n
	return n, nil
}

// fill encodes rows into buf, about 64 KB, or up to the trailer.
func (c *copyStream) fill() error {
	for len(c.buf) < 60000 {
		vals, err := c.src()
		if err != nil {
			return err
		}
		if vals == nil {
			c.buf = binary.BigEndian.AppendUint16(c.buf, 0xffff) // the trailer (-1)
			c.state = 3
			return nil
		}
		start := len(c.buf)
		c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(len(vals)))
		for i, v := range vals {
			if c.buf, err = encodeCopyValue(c.m, c.buf, c.oids[i], v); err != nil {
				return err
			}
		}
		if c.spool != nil {
			if _, err := c.spool.w.Write(c.buf[start:]); err != nil {
				return err
			}
		}
		if c.table {
			// drop row_no (its 4-byte length and 4-byte value)
			binary.BigEndian.PutUint16(c.buf[start:], uint16(len(vals)-1))
			c.buf = append(c.buf[:start+2], c.buf[start+10:]...)
		}
	}
	return nil
}

// encodeCopyValue appends v as a field of binary COPY data (what
// pgx.CopyFrom does): length and bytes, or -1 for NULL. A string for a
// type whose binary encoder takes no string (a date as text) is parsed as
// the type's text first.
func encodeCopyValue(m *pgtype.Map, buf []byte, oid uint32, v any) ([]byte, error) {
	sp := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, 0xffffffff)
	out, err := m.Encode(oid, pgtype.BinaryFormatCode, v, buf)
	if err != nil {
		s, ok := v.(string)
		if !ok {
			text, terr := m.Encode(oid, pgtype.TextFormatCode, v, nil)
			if terr != nil {
				return nil, err
			}
			s = string(text)
		}
		var parsed any
		if serr := m.Scan(oid, pgtype.TextFormatCode, []byte(s), &parsed); serr != nil {
			return nil, err
		}
		if out, err = m.Encode(oid, pgtype.BinaryFormatCode, parsed, buf); err != nil {
			return nil, err
		}
	}
	if out == nil {
		return buf, nil // NULL
	}
	binary.BigEndian.PutUint32(out[sp:], uint32(len(out)-sp-4))
	return out, nil
}
