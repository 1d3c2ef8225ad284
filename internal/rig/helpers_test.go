package rig_test

import (
	"regexp"
	"strings"
	"sync"
)

// lineRecorder is a concurrency-safe io.Writer that keeps what it was given.
type lineRecorder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (r *lineRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b.Write(p)
}

func (r *lineRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b.String()
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }
