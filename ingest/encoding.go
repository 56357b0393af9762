package ingest

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"

	"github.com/lastmile/lastmile"
)

// textEncoding is a legacy text encoding the readers accept: its name as
// reported (and as GDAL's iconv knows it) and its Go decoder.
type textEncoding struct {
	Name string
	dec  encoding.Encoding
}

var textEncodings = map[string]textEncoding{
	"UTF-8":      {"UTF-8", unicode.UTF8},
	"GBK":        {"GBK", simplifiedchinese.GBK},
	"GB18030":    {"GB18030", simplifiedchinese.GB18030},
	"BIG5":       {"BIG5", traditionalchinese.Big5},
	"ISO-8859-1": {"ISO-8859-1", charmap.ISO8859_1},
	"CP1252":     {"CP1252", charmap.Windows1252},
}

// encodingAliases are other spellings (code pages, .cpg contents).
var encodingAliases = map[string]string{
	"UTF8": "UTF-8", "65001": "UTF-8", "CP65001": "UTF-8",
	"CP936": "GBK", "936": "GBK", "GB2312": "GBK", "EUC-CN": "GBK", "WINDOWS-936": "GBK",
	"54936": "GB18030", "CP54936": "GB18030",
	"CP950": "BIG5", "950": "BIG5", "BIG-5": "BIG5",
	"LATIN1": "ISO-8859-1", "ISO8859-1": "ISO-8859-1", "88591": "ISO-8859-1", "28591": "ISO-8859-1",
	"1252": "CP1252", "WINDOWS-1252": "CP1252",
}

// ParseEncoding parses an --encoding value (UTF-8, GBK, GB18030, BIG5,
// ISO-8859-1, CP1252, or a code page such as 936). "" means detect.
func ParseEncoding(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	if e, ok := lookupEncoding(s); ok {
		return e.Name, nil
	}
	return "", lastmile.Invalid("unknown text encoding", lastmile.Problem{Field: "encoding", Value: s,
		Message: "must be UTF-8, GBK (CP936, GB2312), GB18030, BIG5, ISO-8859-1 or CP1252"})
}

func lookupEncoding(s string) (textEncoding, bool) {
	k := strings.ToUpper(strings.TrimSpace(s))
	if a, ok := encodingAliases[k]; ok {
		k = a
	}
	e, ok := textEncodings[k]
	return e, ok
}

// dbfLanguageDrivers are the language-driver ids (byte 29 of a DBF) that
// name an encoding. 0x57 ("ANSI", what ArcGIS writes) means the writer's
// Windows code page, which is not known: it is detected like 0.
var dbfLanguageDrivers = map[byte]string{
	0x01: "CP437", 0x02: "CP850", 0x03: "CP1252",
	0x4D: "GBK", 0x4E: "CP949", 0x4F: "BIG5", 0x7A: "GBK", 0x78: "BIG5",
	0x58: "CP1252", 0x59: "CP1252",
}

// dbfEncoding tells the encoding of a Shapefile's attributes: given
// (--encoding), from the .cpg next to it, from the DBF's language-driver
// byte, or else detected from the field names and text values (valid
// UTF-8, else GB18030, as for CSV). oo is the encoding to hand GDAL as
// the ENCODING open option ("" when GDAL finds it itself); how says how
// it was chosen, for the report.
func dbfEncoding(shp, given string) (oo, how string, err error) {
	base := strings.TrimSuffix(shp, shp[len(shp)-4:])
	if given != "" {
		return given, given + " (given)", nil
	}
	for _, ext := range []string{".cpg", ".CPG"} {
		if b, err := os.ReadFile(base + ext); err == nil {
			cpg := strings.TrimSpace(strings.TrimPrefix(string(b), "\ufeff"))
			if e, ok := lookupEncoding(cpg); ok {
				return e.Name, fmt.Sprintf("%s (from the .cpg)", e.Name), nil
			}
			if cpg != "" {
				return "", fmt.Sprintf("%s (from the .cpg)", cpg), nil // GDAL reads what it names
			}
		}
	}
	dbf := base + ".dbf"
	if !exists(dbf) {
		dbf = base + ".DBF"
	}
	f, err := os.Open(dbf)
	if err != nil {
		return "", "", nil // missingDBF says so
	}
	defer f.Close()
	head := make([]byte, 32)
	if _, err := io.ReadFull(f, head); err != nil {
		return "", "", nil // GDAL reports the damage
	}
	if e, ok := dbfLanguageDrivers[head[29]]; ok {
		return e, fmt.Sprintf("%s (from the DBF language driver 0x%02X)", e, head[29]), nil
	}
	text, err := dbfText(f, head)
	if err != nil {
		return "", "", nil // GDAL reports the damage
	}
	ascii := true
	for _, c := range text {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	switch {
	case ascii:
		return "UTF-8", "UTF-8 (detected: no .cpg, the text is ASCII)", nil
	case validUTF8Prefix(text):
		return "UTF-8", "UTF-8 (detected: no .cpg, the text is valid UTF-8)", nil
	}
	return "GB18030", "GB18030 (detected: no .cpg and the text is not UTF-8; GB18030 includes GBK; give encoding if it is another)", nil
}

// dbfText returns the field names and the text (C) fields of the first
// 4 MiB of records of the DBF f, whose first 32 bytes are head.
func dbfText(f io.Reader, head []byte) ([]byte, error) {
	headerLen := int(binary.LittleEndian.Uint16(head[8:10]))
	recordLen := int(binary.LittleEndian.Uint16(head[10:12]))
	if headerLen < 33 || recordLen < 1 {
		return nil, fmt.Errorf("not a DBF header")
	}
	desc := make([]byte, headerLen-32)
	if _, err := io.ReadFull(f, desc); err != nil {
		return nil, err
	}
	var text []byte
	type span struct{ off, n int }
	var spans []span
	off := 1 // the deletion flag
	for i := 0; i+32 <= len(desc) && desc[i] != 0x0D; i += 32 {
		d := desc[i : i+32]
		name, _, _ := strings.Cut(string(d[:11]), "\x00")
		text = append(text, name...)
		text = append(text, ' ')
		n := int(d[16])
		if d[11] == 'C' {
			n += int(d[17]) << 8 // long character fields
			spans = append(spans, span{off, n})
		}
		off += n
	}
	recs := make([]byte, (4<<20)/recordLen*recordLen)
	m, _ := io.ReadFull(f, recs)
	for r := 0; r+recordLen <= m; r += recordLen {
		for _, sp := range spans {
			if r+sp.off+sp.n <= m {
				text = append(text, recs[r+sp.off:r+sp.off+sp.n]...)
				text = append(text, ' ')
			}
		}
	}
	return text, nil
}

// validUTF8Prefix reports whether b is valid UTF-8 but for a character
// cut at its end.
func validUTF8Prefix(b []byte) bool {
	for i := len(b) - 1; i >= 0 && i >= len(b)-4; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				b = b[:i]
			}
			break
		}
	}
	return utf8.Valid(b)
}
