package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestNginxExample runs docs/nginx/lastmile.conf — the file the docs show,
// with only its addresses and paths replaced — in nginx in front of a
// lastmile: TLS answers, a tile is a MISS then a HIT with lastmile's ETag,
// If-None-Match through the cache is a 304, the page is served, and the
// plain-HTTP port redirects to HTTPS.
func TestNginxExample(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/nginx"); err2 != nil {
			t.Fatal("nginx not found: run scripts/setup (it installs nginx-light)")
		}
		nginx = "/usr/sbin/nginx"
	}
	conf, err := os.ReadFile("../../docs/nginx/lastmile.conf")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile("../../docs/operate.md")
	if !strings.Contains(string(doc), "```nginx\n"+string(conf)+"```") {
		t.Error("docs/operate.md does not show docs/nginx/lastmile.conf as it is")
	}

	// lastmile, with a village to draw
	dbURL := pgtest.URL(t)
	pool, err := postgis.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(context.Background(), `INSERT INTO lastmile.villages (name, geom) VALUES ('v', ST_SetSRID(ST_MakePoint(103, 26), 4326))`)
	pool.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--database-url", dbURL, "--addr", "127.0.0.1:0", "--stats-refresh", "0"}, out)
	}()
	defer func() { cancel(); <-done }()
	var upstream string
	for i := 0; i < 300 && upstream == ""; i++ {
		if m := servingURL.FindStringSubmatch(out.String()); m != nil {
			upstream = strings.TrimPrefix(m[1], "http://")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if upstream == "" {
		t.Fatalf("serve did not start: %s", out.String())
	}

	// nginx, in a private prefix
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	httpsPort, httpPort := freePort(t), freePort(t)
	site := strings.NewReplacer(
		"/var/cache/nginx/lastmile", filepath.Join(dir, "cache"),
		"server 127.0.0.1:8080;", "server "+upstream+";",
		"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort),
		"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", httpsPort),
		"/etc/letsencrypt/live/gis.example.gov.cn/fullchain.pem", cert,
		"/etc/letsencrypt/live/gis.example.gov.cn/privkey.pem", key,
	).Replace(string(conf))
	os.WriteFile(filepath.Join(dir, "lastmile.conf"), []byte(site), 0o644)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	main := fmt.Sprintf(`%s
worker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/lastmile.conf;
}
`, user, dir)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644)
	if b, err := exec.Command(nginx, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejects the example: %v\n%s", err, b)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }() // SIGINT: fast shutdown

	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	base := fmt.Sprintf("https://127.0.0.1:%d", httpsPort)
	get := func(path string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		var resp *http.Response
		var err error
		for i := 0; i < 50; i++ { // nginx needs a moment to listen
			if resp, err = client.Do(req); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("GET %s through nginx: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	tile := "/tiles/villages/12/3219/1741.mvt" // holds the village at 103°E 26°N (no population: drawn from z12)
	first := get(tile)
	second := get(tile)
	if first.StatusCode != 200 || first.Header.Get("X-Nginx-Cache") != "MISS" || second.Header.Get("X-Nginx-Cache") != "HIT" {
		t.Errorf("tile through nginx: %d %s, then %s; want 200 MISS then HIT", first.StatusCode, first.Header.Get("X-Nginx-Cache"), second.Header.Get("X-Nginx-Cache"))
	}
	if first.ProtoMajor != 2 {
		t.Errorf("HTTP/%d, want HTTP/2", first.ProtoMajor)
	}
	etag := first.Header.Get("ETag")
	if etag == "" || second.Header.Get("ETag") != etag || first.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Errorf("ETag %q / %q, Cache-Control %q", etag, second.Header.Get("ETag"), first.Header.Get("Cache-Control"))
	}
	if r := get(tile, "If-None-Match", etag); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match through nginx: %d, want 304", r.StatusCode)
	}
	if r := get(tile + "?status=completed"); r.Header.Get("X-Nginx-Cache") != "MISS" {
		t.Errorf("a filtered tile shares the unfiltered one's cache entry: %s", r.Header.Get("X-Nginx-Cache"))
	}
	if r := get(tile, "Authorization", "Bearer lm_x"); r.Header.Get("X-Nginx-Cache") == "HIT" {
		t.Errorf("a request with a token was answered from the cache")
	}
	if r := get("/"); r.StatusCode != 200 || r.Header.Get("X-Nginx-Cache") != "" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("page through nginx: %d, X-Nginx-Cache %q", r.StatusCode, r.Header.Get("X-Nginx-Cache"))
	}
	plain, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/tiles", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	plain.Body.Close()
	if plain.StatusCode != http.StatusMovedPermanently || !strings.HasPrefix(plain.Header.Get("Location"), "https://") {
		t.Errorf("plain HTTP: %d %s, want a 301 to https", plain.StatusCode, plain.Header.Get("Location"))
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns their paths.
func selfSigned(t *testing.T, dir string) (string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gis.example.gov.cn"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"gis.example.gov.cn"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}
