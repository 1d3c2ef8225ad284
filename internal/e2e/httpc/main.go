// Command httpc is the e2e tests' HTTP client inside the rig's L1, where
// the static busybox's wget cannot be used (static glibc's resolver
// crashes). It fetches or posts and prints what the tests compare.
//
//	httpc get URL            prints the body
//	httpc sum URL            prints the body's length and SHA-256
//	httpc post URL FILE      posts FILE, prints the reply
//	httpc postn URL N        posts N pseudo-random bytes made on the fly,
//	                         prints their length and SHA-256, then the reply
//
// postn lets the network benchmark send a large body without first
// writing it to L1's tmpfs (which under TCG costs more than sending it).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: httpc get|sum URL | httpc post URL FILE | httpc postn URL N")
		os.Exit(2)
	}
	c := &http.Client{Timeout: 15 * time.Minute}
	var resp *http.Response
	var err error
	var sent hash.Hash
	switch os.Args[1] {
	case "postn":
		var n int64
		if n, err = strconv.ParseInt(os.Args[len(os.Args)-1], 10, 64); err == nil && len(os.Args) == 4 {
			sent = sha256.New()
			body := io.TeeReader(io.LimitReader(newNoise(), n), sent)
			req, rerr := http.NewRequest(http.MethodPost, os.Args[2], body)
			if err = rerr; err == nil {
				req.ContentLength = n
				req.Header.Set("Content-Type", "application/octet-stream")
				resp, err = c.Do(req)
			}
		} else if err == nil {
			err = fmt.Errorf("postn needs URL and N")
		}
	case "get", "sum":
		resp, err = c.Get(os.Args[2])
	case "post":
		var f *os.File
		if f, err = os.Open(os.Args[3]); err == nil {
			defer f.Close()
			resp, err = c.Post(os.Args[2], "application/octet-stream", f)
		}
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	if sent != nil {
		fmt.Printf("%s %s ", os.Args[3], hex.EncodeToString(sent.Sum(nil)))
	}
	if os.Args[1] == "sum" {
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("%d %s\n", n, hex.EncodeToString(h.Sum(nil)))
		return
	}
	io.Copy(os.Stdout, resp.Body)
}

// noise is an endless stream of pseudo-random bytes: a 1 MiB block drawn
// once from a fixed seed, repeated. Random enough that no layer could
// compress it, cheap enough not to be what is measured.
type noise struct {
	block []byte
	off   int
}

func newNoise() *noise {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 1<<20)
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return &noise{block: b}
}

func (z *noise) Read(p []byte) (int, error) {
	n := copy(p, z.block[z.off:])
	z.off = (z.off + n) % len(z.block)
	return n, nil
}
