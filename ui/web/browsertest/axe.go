package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// axePath is where the lockfile in web-tests/ installs axe-core, from the module root.
const axePath = "web-tests/node_modules/axe-core/axe.min.js"

// Violation is one axe-core rule that the page breaks, with the elements that break it.
type Violation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"` // minor, moderate, serious or critical
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		// Target is the element's CSS selector path: one selector, or one per frame or
		// shadow root on the way to it.
		Target []json.RawMessage `json:"target"`
		HTML   string            `json:"html"`
	} `json:"nodes"`
}

// Targets are the selectors of the elements that break the rule.
func (v Violation) Targets() []string {
	var out []string
	for _, n := range v.Nodes {
		var parts []string
		for _, raw := range n.Target {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				s = string(raw) // a nested path through a shadow root
			}
			parts = append(parts, s)
		}
		out = append(out, strings.Join(parts, " >>> "))
	}
	return out
}

// String is the violation as a test failure lists it.
func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s; at %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets(), ", "))
}

// Axe checks the page as it is now with axe-core and fails tb listing every violation of
// impact serious or critical (id, impact, help, target selectors); minor and moderate
// ones are logged. It skips tb (fails it in CI) when axe-core is not installed.
func (b *Browser) Axe(tb testing.TB) {
	tb.Helper()
	var bad []string
	for _, v := range b.axe(tb) {
		switch v.Impact {
		case "serious", "critical":
			bad = append(bad, v.String())
		default:
			tb.Logf("axe: %s", v)
		}
	}
	if len(bad) > 0 {
		tb.Errorf("axe: %d serious or critical violations:\n\t%s", len(bad), strings.Join(bad, "\n\t"))
	}
}

// AxeViolations checks the page as it is now with axe-core and returns every violation,
// of any impact, for a test that expects some.
func (b *Browser) AxeViolations() []Violation {
	b.tb.Helper()
	return b.axe(b.tb)
}

func (b *Browser) axe(tb testing.TB) []Violation {
	tb.Helper()
	src, err := axeSource()
	if err != nil {
		tb.Logf("browsertest: %v", err)
		missing(tb, "axe-core ("+axePath+")", "npm ci --prefix web-tests")
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	// Injected on every call: a navigation since the last one has dropped it.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
		tb.Fatalf("browsertest: inject axe-core: %v", err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](
		`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations)`,
		chromedp.EvalAwaitPromise,
	))
	if err != nil {
		tb.Fatalf("browsertest: run axe-core: %v", timeoutSays(err, b.Timeout))
	}
	var violations []Violation
	if err := json.Unmarshal(raw, &violations); err != nil {
		tb.Fatalf("browsertest: axe-core's result: %v", err)
	}
	return violations
}

var (
	axeOnce sync.Once
	axeJS   string
	axeErr  error
)

// axeSource is the pinned axe.min.js, read once from the module root.
func axeSource() (string, error) {
	axeOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			axeErr = err
			return
		}
		b, err := os.ReadFile(filepath.Join(root, axePath))
		if err != nil {
			axeErr = err
			return
		}
		axeJS = string(b)
	})
	return axeJS, axeErr
}

// moduleRoot is the nearest directory above the working directory (a test's package
// directory) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
