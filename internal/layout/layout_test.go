package layout

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/ckslab/ckslab"

// rule forbids packages whose path (relative to the module) matches from to import one that matches to.
type rule struct {
	from, to func(string) bool
	why      string
}

func under(prefix string) func(string) bool {
	return func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
}

func not(f func(string) bool) func(string) bool { return func(p string) bool { return !f(p) } }

// exactly matches one package, not the ones below it.
func exactly(p string) func(string) bool { return func(q string) bool { return q == p } }

func anything(string) bool { return true }

// The rules of the developers' guide: data flows one way (scenario data -> provisioning -> lab -> truth -> checks
// -> report); nothing imports cmd, grader never imports internal, falco never imports grader; a scenario's own lab
// side (scenarios/<id>) looks and sets up through its arguments, never through internal.
var rules = []rule{
	{not(under("cmd")), under("cmd"), "nothing imports cmd"},
	{under("grader"), under("internal"), "grader never imports internal"},
	{under("falco"), under("grader"), "falco never imports grader"},
	{exactly("scenarios"), anything, "the scenarios' data imports nothing of ckslab"},
	{under("scenarios"), under("internal"), "a scenario's lab side takes what it needs as arguments, not from internal"},
	{under("manifests"), under("internal"), "the embedded manifests are data: they import no provisioning code"},
	{not(under("e2e")), under("e2e"), "nothing outside it imports the end-to-end suite"},
}

// imports is every package of the module (relative path) with the module's packages its non-test files import,
// whatever their build constraints (windows-only files and the e2e tag included).
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module's root is not two folders up: %v", err)
	}
	ctx := build.Default
	ctx.UseAllFiles = true
	out := map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "_output") {
			return filepath.SkipDir
		}
		pkg, err := ctx.ImportDir(path, build.ImportComment)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			t.Errorf("reading the package in %s: %v", path, err)
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		var own []string
		for _, imp := range pkg.Imports {
			if r, ok := strings.CutPrefix(imp, module+"/"); ok {
				own = append(own, r)
			}
		}
		out[rel] = own
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportRules(t *testing.T) {
	pkgs := imports(t)
	for _, must := range []string{"cmd/ckslab/app", "grader/answerfile", "falco", "scenarios", "scenarios/audit-logging", "scenarios/falco-runtime", "internal/lab"} {
		if _, ok := pkgs[must]; !ok {
			t.Fatalf("package %s not found: the walk missed the module's packages (found %d)", must, len(pkgs))
		}
	}
	if !slices.Contains(pkgs["internal/lab"], "falco") || !slices.Contains(pkgs["internal/lab"], "scenarios/audit-logging") {
		t.Fatalf("internal/lab's imports were not read: %v", pkgs["internal/lab"])
	}
	names := make([]string, 0, len(pkgs))
	for p := range pkgs {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		for _, imp := range pkgs[p] {
			for _, r := range rules {
				if r.from(p) && r.to(imp) {
					t.Errorf("%s imports %s: %s", p, imp, r.why)
				}
			}
		}
	}
}

// The rules catch what they are for: a made-up import of each kind is refused.
func TestRulesRefuse(t *testing.T) {
	for _, c := range [][2]string{
		{"internal/lab", "cmd/ckslab/app"},
		{"grader/cluster", "internal/lab"},
		{"falco", "grader/answerfile"},
		{"scenarios", "falco"},
		{"scenarios/falco-runtime", "internal/lab"},
		{"manifests", "internal/images"},
	} {
		refused := false
		for _, r := range rules {
			if r.from(c[0]) && r.to(c[1]) {
				refused = true
			}
		}
		if !refused {
			t.Errorf("%s importing %s is not refused by any rule", c[0], c[1])
		}
	}
	for _, c := range [][2]string{{"cmd/ckslab", "cmd/ckslab/app"}, {"internal/lab", "scenarios/audit-logging"}, {"grader/audit", "scenarios"}} {
		for _, r := range rules {
			if r.from(c[0]) && r.to(c[1]) {
				t.Errorf("%s importing %s is refused (%s), but is allowed", c[0], c[1], r.why)
			}
		}
	}
}
