package ingest

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/lastmile/lastmile"
)

// MapInfo charsets GDAL decodes, by encoding; "Neutral" passes the bytes
// through, which is right for UTF-8.
var mapinfoCharsets = map[string]string{
	"GBK": "WindowsSimpChinese", "GB18030": "WindowsSimpChinese", "BIG5": "WindowsTradChinese",
	"CP1252": "WindowsLatin1", "ISO-8859-1": "ISO8859_1", "UTF-8": "Neutral",
}

var mapinfoCharsetLine = regexp.MustCompile(`(?im)^\s*(!charset\s+|charset\s+")([^"\r\n]*)`)

// mapinfoCharset returns the charset a .tab or .mif header names ("" for
// none).
func mapinfoCharset(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := bufio.NewReader(f).Read(head)
	if m := mapinfoCharsetLine.FindSubmatch(head[:n]); m != nil {
		return strings.TrimSpace(string(m[2]))
	}
	return ""
}

// mapinfoEncoding tells the encoding of a MapInfo table's attributes and,
// when GDAL would read them wrongly, gives it a table it reads right. GDAL
// decodes by the charset the header names and has no open option to
// override it (3.6), so for a .tab whose charset is Neutral (no recoding)
// and whose .dat is not UTF-8, or when encoding is given, a copy of the
// small .tab header with that charset is written into dir beside links to
// the table's other files; tab is then the table to open. A .mif holds its
// geometries in the same file: an encoding is not applied to it.
func mapinfoEncoding(path, given, dir string) (tab, how string, err error) {
	charset := mapinfoCharset(path)
	isTab := strings.EqualFold(filepath.Ext(path), ".tab")
	if !isTab {
		if given != "" {
			return "", "", lastmile.Invalid("the encoding cannot be applied", lastmile.Problem{Field: "encoding", Value: given,
				Message: "is not applied to a MapInfo .mif file (GDAL reads the charset its header names: change its Charset line, or save it as .tab)"})
		}
		if charset == "" {
			return path, "", nil
		}
		return path, charset + " (from the .mif header)", nil
	}
	enc := given
	how = enc + " (given)"
	if enc == "" {
		if !strings.EqualFold(charset, "Neutral") {
			if charset == "" {
				return path, "", nil
			}
			return path, charset + " (from the .tab)", nil
		}
		base := strings.TrimSuffix(path, filepath.Ext(path))
		dat := findCompanion(base, ".dat")
		f, err := os.Open(dat)
		if err != nil {
			return path, "Neutral (from the .tab)", nil
		}
		defer f.Close()
		head := make([]byte, 32)
		if _, err := f.Read(head); err != nil {
			return path, "Neutral (from the .tab)", nil
		}
		text, err := dbfText(f, head)
		if err != nil || validUTF8Prefix(text) {
			return path, "UTF-8 (detected: the .tab's charset is Neutral, the text is UTF-8)", nil
		}
		enc, how = "GB18030", "GB18030 (detected: the .tab's charset is Neutral and the text is not UTF-8; GB18030 includes GBK; give encoding if it is another)"
	}
	cs, ok := mapinfoCharsets[enc]
	if !ok {
		return "", "", lastmile.Invalid("the encoding cannot be applied", lastmile.Problem{Field: "encoding", Value: given,
			Message: "MapInfo tables take UTF-8, GBK, GB18030, BIG5, CP1252 or ISO-8859-1"})
	}
	header, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	if mapinfoCharsetLine.Match(header) {
		header = mapinfoCharsetLine.ReplaceAll(header, []byte("${1}"+cs))
	} else {
		header = append([]byte("!charset "+cs+"\n"), header...)
	}
	// the header's own "Charset" in a Definition Table says the same
	header = bytes.ReplaceAll(header, []byte(`Charset "Neutral"`), []byte(`Charset "`+cs+`"`))
	name := filepath.Base(path)
	tab = filepath.Join(dir, name)
	if err := os.WriteFile(tab, header, 0o600); err != nil {
		return "", "", err
	}
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), globEscape(stem)+".*"))
	for _, m := range matches {
		if strings.EqualFold(filepath.Ext(m), ".tab") {
			continue
		}
		abs, err := filepath.Abs(m)
		if err != nil {
			return "", "", err
		}
		if err := os.Symlink(abs, filepath.Join(dir, filepath.Base(m))); err != nil {
			return "", "", err
		}
	}
	return tab, how, nil
}

func findCompanion(base, ext string) string {
	for _, e := range []string{ext, strings.ToUpper(ext)} {
		if exists(base + e) {
			return base + e
		}
	}
	return base + ext
}

func globEscape(s string) string {
	return strings.NewReplacer("*", `\*`, "?", `\?`, "[", `\[`, `\`, `\\`).Replace(s)
}
