package agent

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Bulk transfers for the network tests: the host and the guest each check
// that 100 MiB crossed virtio-net intact, by SHA-256.
//
//	GET  /bytes?n=N  N random bytes; the sum is printed on the console
//	POST /sink       reads the body, answers "N SHA256"
//
// and gvmm.fetch=URL makes the agent download URL after READY and print its
// size and sum.

// maxTransfer bounds /bytes so a typo cannot fill the link forever.
const maxTransfer = 1 << 30

// transferRoutes adds the bulk-transfer handlers to mux. say prints a
// console line.
func transferRoutes(mux *http.ServeMux, say func(format string, args ...any)) {
	mux.HandleFunc("GET /bytes", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		if err != nil || n < 0 || n > maxTransfer {
			http.Error(w, "want ?n=BYTES (at most 1 GiB)", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		h := sha256.New()
		sent, err := io.CopyN(io.MultiWriter(w, h), rand.Reader, n)
		if err != nil {
			say("bytes: sent %d of %d: %v", sent, n, err)
			return
		}
		say("bytes: sent %d sha256 %s", sent, hex.EncodeToString(h.Sum(nil)))
	})
	mux.HandleFunc("POST /sink", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sum := hex.EncodeToString(h.Sum(nil))
		say("sink: received %d sha256 %s", n, sum)
		fmt.Fprintf(w, "%d %s\n", n, sum)
	})
}

// fetchTimeout bounds gvmm.fetch.
const fetchTimeout = 10 * time.Minute

// Fetch downloads url and returns its length and SHA-256.
func Fetch(url string) (int64, string, error) {
	c := &http.Client{Timeout: fetchTimeout}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return n, "", fmt.Errorf("GET %s: after %d bytes: %w", url, n, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
