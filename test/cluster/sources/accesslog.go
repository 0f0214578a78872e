package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// accessLog writes one line per request to stderr once it is answered:
// time, method, path and query, status, response bytes, duration.
func accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		fmt.Fprintf(os.Stderr, "%s %s %s %d %dB %s\n", start.UTC().Format(time.RFC3339Nano), r.Method, r.URL.RequestURI(),
			rec.status, rec.bytes, time.Since(start).Round(time.Microsecond))
	})
}

// recorder remembers the status and counts the bytes of a response. Flush
// and Unwrap keep streaming working: Git responses are flushed as they go.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// dropRequestLines passes the standard logger's output through, except
// gitkit's own "request: ..." line per request, which accessLog replaces.
type dropRequestLines struct{ w io.Writer }

func (d dropRequestLines) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("request: ")) {
		return len(p), nil
	}
	return d.w.Write(p)
}
