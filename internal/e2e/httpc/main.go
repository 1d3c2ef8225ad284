// Command httpc is the e2e tests' HTTP client inside the rig's L1, where
// the static busybox's wget cannot be used (static glibc's resolver
// crashes). It fetches or posts and prints what the tests compare.
//
//	httpc get URL            prints the body
//	httpc sum URL            prints the body's length and SHA-256
//	httpc post URL FILE      posts FILE, prints the reply
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: httpc get|sum URL | httpc post URL FILE")
		os.Exit(2)
	}
	c := &http.Client{Timeout: 5 * time.Minute}
	var resp *http.Response
	var err error
	switch os.Args[1] {
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
