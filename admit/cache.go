package admit

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Cache keeps whole answers (status 200, headers and body) of repeated
// questions. A key is the normalised parameters; an entry is valid only in
// the data generation it was computed in (Changed starts a new one) and
// for at most its TTL (for changes made outside lastmile, e.g. in SQL or
// on the primary of a read replica). Oldest entries go first when full.
type Cache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ttl   time.Duration
	gen   uint64
	order *list.List // of *entry, oldest at the front
	byKey map[string]*list.Element
}

type entry struct {
	key    string
	gen    uint64
	at     time.Time
	header http.Header
	body   []byte
}

// NewCache returns a cache of at most maxBytes of bodies.
func NewCache(maxBytes int64, ttl time.Duration) *Cache {
	return &Cache{max: maxBytes, ttl: ttl, order: list.New(), byKey: map[string]*list.Element{}}
}

// Changed starts a new generation: every entry is stale.
func (c *Cache) Changed() {
	c.mu.Lock()
	c.gen++
	c.mu.Unlock()
}

// Key hashes the parts of a question into a cache key.
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Serve answers from the cache when key is there (Lastmile-Cache: HIT),
// else runs fn with a writer that keeps a copy of a 200 answer for the
// next asker (MISS). A nil cache just runs fn.
func (c *Cache) Serve(w http.ResponseWriter, key string, fn func(w http.ResponseWriter) error) error {
	if c == nil {
		return fn(w)
	}
	if e := c.get(key); e != nil {
		for k, v := range e.header {
			w.Header()[k] = v
		}
		w.Header().Set("Lastmile-Cache", "HIT")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(e.body)
		return err
	}
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	w.Header().Set("Lastmile-Cache", "MISS")
	tw := &teeWriter{ResponseWriter: w, limit: c.max / 8}
	if err := fn(tw); err != nil {
		return err
	}
	if tw.status == http.StatusOK && !tw.over {
		h := w.Header().Clone()
		h.Del("Lastmile-Cache")
		h.Del("X-Request-Id")
		c.put(&entry{key: key, gen: gen, at: time.Now(), header: h, body: tw.buf.Bytes()})
	}
	return nil
}

func (c *Cache) get(key string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil
	}
	e := el.Value.(*entry)
	if e.gen != c.gen || (c.ttl > 0 && time.Since(e.at) > c.ttl) {
		c.remove(el)
		return nil
	}
	return e
}

func (c *Cache) put(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.gen != c.gen { // the data changed while it was computed
		return
	}
	if el, ok := c.byKey[e.key]; ok {
		c.remove(el)
	}
	c.byKey[e.key] = c.order.PushBack(e)
	c.size += int64(len(e.body))
	for c.size > c.max && c.order.Len() > 0 {
		c.remove(c.order.Front())
	}
}

func (c *Cache) remove(el *list.Element) {
	e := c.order.Remove(el).(*entry)
	delete(c.byKey, e.key)
	c.size -= int64(len(e.body))
}

// teeWriter passes an answer through and keeps a copy of up to limit bytes.
type teeWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
	limit  int64
	over   bool
}

func (t *teeWriter) WriteHeader(status int) {
	if t.status == 0 {
		t.status = status
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	if !t.over {
		if int64(t.buf.Len()+len(b)) > t.limit {
			t.over, t.buf = true, bytes.Buffer{}
		} else {
			t.buf.Write(b)
		}
	}
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
