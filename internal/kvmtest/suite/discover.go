package suite

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// kvmtestImport is the import path of the package whose Require marks a
// KVM test.
const kvmtestImport = "gvmm/internal/kvmtest"

// Package is a Go package with KVM tests.
type Package struct {
	// Dir is the package directory relative to the module root ("vmm").
	Dir string
	// Tests and Benchmarks are the top-level Test and Benchmark functions
	// that call kvmtest.Require, directly or through a function of the
	// package, sorted.
	Tests, Benchmarks []string
}

// Filter keeps the tests and benchmarks whose names match re, and the
// packages left with any.
func Filter(pkgs []Package, re *regexp.Regexp) []Package {
	keep := func(names []string) []string {
		var out []string
		for _, n := range names {
			if re.MatchString(n) {
				out = append(out, n)
			}
		}
		return out
	}
	var out []Package
	for _, p := range pkgs {
		p.Tests, p.Benchmarks = keep(p.Tests), keep(p.Benchmarks)
		if len(p.Tests)+len(p.Benchmarks) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// ImportPath is the package's import path in module gvmm.
func (p Package) ImportPath() string { return "gvmm/" + filepath.ToSlash(p.Dir) }

// RunPattern is the -test.run pattern that selects exactly Tests.
func (p Package) RunPattern() string { return anchored(p.Tests) }

// BenchPattern is the -test.bench pattern that selects exactly Benchmarks.
func (p Package) BenchPattern() string { return anchored(p.Benchmarks) }

func anchored(names []string) string {
	if len(names) == 0 {
		return "^$"
	}
	return "^(" + strings.Join(names, "|") + ")$"
}

// Discover walks the module at root and returns every package whose test
// files hold KVM tests, sorted by directory. Directories named testdata,
// build and those starting with "." are not packages of the module.
func Discover(root string) ([]Package, error) {
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || name == "build" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var pkgs []Package
	for dir := range dirs {
		p, err := discoverDir(dir)
		if err != nil {
			return nil, err
		}
		if len(p.Tests)+len(p.Benchmarks) == 0 {
			continue
		}
		if p.Dir, err = filepath.Rel(root, dir); err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Dir < pkgs[j].Dir })
	return pkgs, nil
}

// discoverDir finds the KVM tests among the _test.go files of one
// directory. External test packages (package x_test) share the directory
// and are read together: a name resolves within the file set, which is
// enough for the helpers tests call.
func discoverDir(dir string) (Package, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return Package{}, err
	}
	fset := token.NewFileSet()
	calls := map[string]map[string]bool{} // function -> functions it calls
	marked := map[string]bool{}           // functions that call kvmtest.Require
	var tops []string
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			return Package{}, err
		}
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return Package{}, fmt.Errorf("kvm-tests: %w", err)
		}
		alias := kvmtestAlias(f)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			name := fn.Name.Name
			if fn.Recv != nil {
				name = "(method)." + name // methods are not called by bare name
			} else if isTopLevelTest(fn) {
				tops = append(tops, name)
			}
			if calls[name] == nil {
				calls[name] = map[string]bool{}
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				switch f := call.Fun.(type) {
				case *ast.Ident:
					calls[name][f.Name] = true
				case *ast.SelectorExpr:
					if x, ok := f.X.(*ast.Ident); ok && alias != "" && x.Name == alias && f.Sel.Name == "Require" {
						marked[name] = true
					}
				}
				return true
			})
		}
	}
	// Propagate: a function that calls a marked function is marked, until
	// nothing changes (the call graph of a test package is small).
	for changed := true; changed; {
		changed = false
		for fn, callees := range calls {
			if marked[fn] {
				continue
			}
			for c := range callees {
				if marked[c] {
					marked[fn], changed = true, true
					break
				}
			}
		}
	}
	var p Package
	for _, name := range tops {
		if !marked[name] {
			continue
		}
		if strings.HasPrefix(name, "Benchmark") {
			p.Benchmarks = append(p.Benchmarks, name)
		} else {
			p.Tests = append(p.Tests, name)
		}
	}
	sort.Strings(p.Tests)
	sort.Strings(p.Benchmarks)
	return p, nil
}

// kvmtestAlias is the name under which f imports package kvmtest, or "".
func kvmtestAlias(f *ast.File) string {
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil || path != kvmtestImport {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return "kvmtest"
	}
	return ""
}

// isTopLevelTest reports whether fn is a TestXxx(t *testing.T) or
// BenchmarkXxx(b *testing.B) function the testing package runs.
func isTopLevelTest(fn *ast.FuncDecl) bool {
	name := fn.Name.Name
	for _, prefix := range []string{"Test", "Benchmark"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok && name != "TestMain" &&
			(rest == "" || !isLower(rest[0])) && fn.Type.Params != nil && len(fn.Type.Params.List) == 1 {
			return true
		}
	}
	return false
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
