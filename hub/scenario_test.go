package hub

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the expected output of hub/testdata scenarios")

var testKey = []byte("0123456789abcdef0123456789abcdef")

// scenarioStart is a Tuesday evening, so the limited user's window is open.
var scenarioStart = time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)

// TestScenarios runs every hub/testdata/*.txt script. A script is blocks of one command and
// its expected effects:
//
//	arm away by anna
//	----
//	event exit_delay area=1 zone=1 user=anna how=web
//
// Besides ParseLine's verbs: "advance 61s" moves the clock and ticks; "restart" persists
// the state as the store does and loads it into a new engine; "state" prints the areas;
// "outputs" prints what every local output shows (State.Outputs: sirens, strobes, keypads,
// the box's relay, strobe and LED);
// "set KEY VALUE" changes a setting before the first command. Run with -update to rewrite.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScenario(t, file)
		})
	}
}

type block struct {
	comments []string
	cmd      string
	want     string
}

func parseScenario(t *testing.T, data string) []block {
	var blocks []block
	var cur block
	lines := strings.Split(data, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "#") || (strings.TrimSpace(l) == "" && cur.cmd == ""):
			cur.comments = append(cur.comments, l)
		case cur.cmd == "":
			cur.cmd = strings.TrimSpace(l)
			if i+1 >= len(lines) || lines[i+1] != "----" {
				t.Fatalf("line %d: %q is not followed by ----", i+1, l)
			}
			i++
			var want []string
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				i++
				want = append(want, lines[i])
			}
			cur.want = strings.Join(want, "\n")
			blocks = append(blocks, cur)
			cur = block{}
		}
	}
	return blocks
}

func runScenario(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blocks := parseScenario(t, string(data))
	inst := DemoInstallation(testKey)
	eng := NewEngine(inst, State{})
	now := scenarioStart
	var out bytes.Buffer
	for _, b := range blocks {
		got := scenarioStep(t, &eng, inst, &now, b.cmd)
		for _, c := range b.comments {
			out.WriteString(c + "\n")
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n", b.cmd, got)
		if !*update && got != b.want {
			t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", file, b.cmd, got, b.want)
		}
		checkInvariants(t, eng, b.cmd)
	}
	if *update {
		if err := os.WriteFile(file, append(bytes.TrimRight(out.Bytes(), "\n"), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func scenarioStep(t *testing.T, eng **Engine, inst *Installation, now *time.Time, cmd string) string {
	t.Helper()
	f := strings.Fields(cmd)
	switch f[0] {
	case "advance":
		d, err := time.ParseDuration(f[1])
		if err != nil {
			t.Fatalf("advance %q: %v", f[1], err)
		}
		*now = now.Add(d)
		effs, err := (*eng).Step(*now, Input{Kind: InTick})
		return render(effs, err)
	case "run":
		// "run 45m" moves the clock as the hub's run loop lives it: a tick at every
		// deadline on the way, then one at the end.
		d, err := time.ParseDuration(f[1])
		if err != nil {
			t.Fatalf("run %q: %v", f[1], err)
		}
		end := now.Add(d)
		var lines []string
		for {
			next, ok := (*eng).NextDeadline()
			if !ok || next.After(end) {
				break
			}
			*now = next
			effs, err := (*eng).Step(*now, Input{Kind: InTick})
			if r := render(effs, err); r != "(nothing)" {
				lines = append(lines, "at "+now.In((*eng).Installation().Location()).Format("Mon 15:04")+":", r)
			}
		}
		*now = end
		effs, err := (*eng).Step(*now, Input{Kind: InTick})
		if r := render(effs, err); r != "(nothing)" || len(lines) == 0 {
			lines = append(lines, r)
		}
		return strings.Join(lines, "\n")
	case "restart":
		b, err := json.Marshal((*eng).State())
		if err != nil {
			t.Fatal(err)
		}
		var st State
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		*eng = NewEngine((*eng).Installation(), st) // as configured, as the store keeps it
		(*eng).Restore(*now)                        // as hub.New does
		return "ok"
	case "state":
		var lines []string
		for _, a := range (*eng).State().Areas {
			l := fmt.Sprintf("area %d %s siren=%s", a.Number, a.Mode, a.Siren)
			if len(a.Memory)+len(a.FireMemory) > 0 {
				l += fmt.Sprintf(" memory=%d fire_memory=%d", len(a.Memory), len(a.FireMemory))
			}
			if len(a.Bypassed) > 0 {
				l += fmt.Sprintf(" bypassed=%v", a.Bypassed)
			}
			lines = append(lines, l)
		}
		if next, ok := (*eng).NextDeadline(); ok {
			lines = append(lines, "next deadline +"+next.Sub(*now).String())
		}
		return strings.Join(lines, "\n")
	case "outputs":
		return renderOutputs((*eng).State().Outputs())
	case "set":
		switch f[1] {
		case "entry_delay":
			d, _ := time.ParseDuration(f[2])
			inst.Settings.EntryDelay = NewDuration(d)
			inst.Settings.NoEntryDelay = d == 0
		case "swinger_limit":
			fmt.Sscan(f[2], &inst.Settings.SwingerLimit)
		default:
			t.Fatalf("set %s: unknown setting", f[1])
		}
		*eng = NewEngine(inst, (*eng).State().Clone())
		return "ok"
	case "schedule", "plug":
		// "schedule [area N] away|home|night at HH:MM [disarm HH:MM] days D…" and
		// "plug DEVICE [on HH:MM] [off HH:MM] days D…", added by anna as the web UI does.
		sched, plug, err := parseScheduleLine(f)
		if err != nil {
			return "parse error: " + err.Error()
		}
		effs, err := (*eng).Configure(*now, Input{User: "anna", How: HowWeb}, "schedule added", func(in *Installation) error {
			if f[0] == "plug" {
				in.PlugSchedules = append(in.PlugSchedules, plug)
			} else {
				in.Schedules = append(in.Schedules, sched)
			}
			return nil
		})
		return render(effs, err)
	}
	in, err := ParseLine(inst, cmd)
	if err != nil {
		return "parse error: " + err.Error()
	}
	effs, err := (*eng).Step(*now, in)
	return render(effs, err)
}

func render(effs []Effect, err error) string {
	var lines []string
	for _, e := range effs {
		lines = append(lines, renderEffect(e))
	}
	if err != nil {
		lines = append(lines, "error: "+err.Error())
	}
	if len(lines) == 0 {
		return "(nothing)"
	}
	return strings.Join(lines, "\n")
}

func renderEffect(e Effect) string {
	switch e.Kind {
	case EffectSiren:
		return fmt.Sprintf("siren area=%d %s", e.Area, e.Pattern)
	case EffectChime:
		return fmt.Sprintf("chime area=%d zone=%d", e.Area, e.Zone)
	case EffectSwitch:
		return fmt.Sprintf("switch %s on=%v", e.Device, e.On)
	}
	ev := e.Event
	var b strings.Builder
	fmt.Fprintf(&b, "event %s", ev.Kind)
	if ev.Restore {
		b.WriteString(" restore")
	}
	if ev.Area != 0 {
		fmt.Fprintf(&b, " area=%d", ev.Area)
	}
	if ev.Mode != ModeDisarmed {
		fmt.Fprintf(&b, " mode=%s", ev.Mode)
	}
	if ev.Zone != 0 {
		fmt.Fprintf(&b, " zone=%d", ev.Zone)
	}
	if ev.ZoneName != "" {
		fmt.Fprintf(&b, " %q", ev.ZoneName)
	}
	if ev.Device != "" && ev.Zone == 0 {
		fmt.Fprintf(&b, " device=%s", ev.Device)
	}
	if ev.User != "" {
		fmt.Fprintf(&b, " user=%s", ev.User)
	}
	if ev.How != HowNone {
		fmt.Fprintf(&b, " how=%s", ev.How)
	}
	if ev.Report {
		fmt.Fprintf(&b, " report=%d%03d/%s", ev.Qualifier(), ev.ContactID, ev.SIA)
	}
	if ev.Note != "" {
		fmt.Fprintf(&b, " (%s)", ev.Note)
	}
	return b.String()
}

// checkInvariants holds after every step of every scenario and of the fuzz test.
func checkInvariants(t *testing.T, eng *Engine, after string) {
	t.Helper()
	for _, a := range eng.State().Areas {
		if a.Set == ModeDisarmed && a.Siren == SirenBurglar {
			t.Errorf("after %q: disarmed area %d sounds the burglar siren", after, a.Number)
		}
		if a.Siren != SirenOff && a.SirenUntil.IsZero() {
			t.Errorf("after %q: area %d siren has no cut-off", after, a.Number)
		}
	}
}

// renderOutputs prints one line per area and one for the box.
func renderOutputs(o Outputs) string {
	var lines []string
	for _, a := range o.Areas {
		l := fmt.Sprintf("area %d siren=%s", a.Area, a.Siren)
		if !a.SirenUntil.IsZero() {
			l += " until=" + a.SirenUntil.Format("15:04:05")
		}
		l += fmt.Sprintf(" strobe=%v keypad=%s", a.Strobe, a.Keypad)
		if !a.KeypadUntil.IsZero() {
			l += " countdown_until=" + a.KeypadUntil.Format("15:04:05")
		}
		lines = append(lines, l)
	}
	lines = append(lines, fmt.Sprintf("box siren=%s strobe=%v led=%s", o.Box.Siren, o.Box.Strobe, o.Box.LED))
	return strings.Join(lines, "\n")
}

// parseScheduleLine reads a scenario's schedule or plug line.
func parseScheduleLine(f []string) (Schedule, PlugSchedule, error) {
	var s Schedule
	var p PlugSchedule
	s.Area = 1
	rest := f[1:]
	if f[0] == "plug" {
		if len(rest) == 0 {
			return s, p, fmt.Errorf("plug DEVICE …")
		}
		p.Device, rest = rest[0], rest[1:]
	}
	clock := func(w string) (*ClockTime, error) {
		c, err := ParseClockTime(w)
		return &c, err
	}
	for len(rest) > 0 {
		w := rest[0]
		var err error
		switch {
		case w == "area" && len(rest) > 1:
			_, err = fmt.Sscan(rest[1], &s.Area)
			rest = rest[2:]
		case w == "away" || w == "home" || w == "night":
			s.Mode, _ = ParseMode(w)
			rest = rest[1:]
		case (w == "at" || w == "disarm" || w == "on" || w == "off") && len(rest) > 1:
			var c *ClockTime
			c, err = clock(rest[1])
			switch w {
			case "at":
				s.Arm = c
			case "disarm":
				s.Disarm = c
			case "on":
				p.On = c
			case "off":
				p.Off = c
			}
			rest = rest[2:]
		case w == "days":
			for _, d := range rest[1:] {
				wd, err := ParseWeekday(d)
				if err != nil {
					return s, p, err
				}
				s.Days = append(s.Days, wd)
				p.Days = append(p.Days, wd)
			}
			rest = nil
		default:
			err = fmt.Errorf("unexpected %q", w)
			rest = nil
		}
		if err != nil {
			return s, p, err
		}
	}
	return s, p, nil
}
