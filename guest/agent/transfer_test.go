package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTransferEndpoints(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	say := func(f string, a ...any) { mu.Lock(); lines = append(lines, fmt.Sprintf(f, a...)); mu.Unlock() }
	mux := http.NewServeMux()
	transferRoutes(mux, say)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	n, sum, err := Fetch(srv.URL + "/bytes?n=1000000")
	require.NoError(t, err)
	assert.Equal(t, int64(1000000), n)
	// The handler prints after its last write, which can be after the
	// client has read the whole body: wait for the line.
	assert.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(lines, "bytes: sent 1000000 sha256 "+sum)
	}, 5*time.Second, 10*time.Millisecond, "the sender prints the same sum the receiver computed")

	body := strings.Repeat("gvmm", 1000)
	resp, err := http.Post(srv.URL+"/sink", "application/octet-stream", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	h := sha256.Sum256([]byte(body))
	assert.Equal(t, fmt.Sprintf("%d %s\n", len(body), hex.EncodeToString(h[:])), string(got))

	for _, bad := range []string{"/bytes", "/bytes?n=-1", "/bytes?n=99999999999"} {
		r, err := http.Get(srv.URL + bad)
		require.NoError(t, err)
		r.Body.Close()
		assert.Equal(t, http.StatusBadRequest, r.StatusCode, bad)
	}
	_, _, err = Fetch(srv.URL + "/nothing-here")
	assert.Error(t, err)
}
