package agent

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// readHeaderTimeout bounds a slow client's request headers.
const readHeaderTimeout = 5 * time.Second

// ServeHTTP listens on addr before returning (so READY after it means the
// port is open) and serves a small page in the background: the later
// virtio-net tests fetch it from the host.
func ServeHTTP(addr string, say func(format string, args ...any)) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		host, _ := os.Hostname()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello from gvmm-agent on %s\n", host)
	})
	transferRoutes(mux, say)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
	// Serve returns only when the guest goes down; nothing to report then.
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr(), nil
}
