package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseInstallation_ExampleAndRoundTrip(t *testing.T) {
	data, err := os.ReadFile("../examples/installation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := ParseInstallation(data, testKey)
	if err != nil {
		t.Fatal(err)
	}
	anna := inst.Users[0]
	if len(anna.Codes) != 1 || anna.Codes[0] != HashCredential(testKey, "code", "1234") || anna.Duress == "" || len(anna.Tags) != 1 {
		t.Fatalf("anna's credentials were not hashed: %+v", anna)
	}
	if strings.Contains(string(data), anna.Codes[0]) {
		t.Fatal("hash in the source?")
	}
	out, err := MarshalInstallation(inst)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "1234\"") || strings.Contains(string(out), "code_key") {
		t.Fatalf("export leaks a code or the key:\n%s", out)
	}
	again, err := ParseInstallation(out, testKey)
	if err != nil {
		t.Fatalf("re-import of the export: %v\n%s", err, out)
	}
	if len(again.Schedules) != 2 || *again.Schedules[0].Disarm != 6*60+30 || len(again.PlugSchedules) != 1 || again.Location().String() != "Europe/Stockholm" {
		t.Fatalf("the example's schedules did not survive export and import: %+v %+v", again.Schedules, again.PlugSchedules)
	}
	eng := NewEngine(again, State{})
	if _, err := eng.Step(scenarioStart, Input{Kind: InArm, Area: 1, Mode: ModeArmedAway, Code: "1234", How: HowKeypad}); err != nil {
		t.Fatalf("arming with an imported code: %v", err)
	}
}

func TestParseInstallation_Errors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "areas:\n  - {number: 1, nmae: x}\n", "line 2: field nmae not found"},
		{"bad zone type", "areas: [{number: 1}]\ndevices: [{id: d, driver: sim}]\nzones: [{number: 1, area: 1, type: door, device: d}]\n", "unknown zone type \"door\""},
		{"bad pin", "areas: [{number: 1}]\nusers: [{id: a, number: 1, role: admin, pins: [\"12\"]}]\n", "users[0].pins"},
		{"bad duration", "settings: {entry_delay: soon}\n", "duration \"soon\""},
		{"entry delay too long", "settings: {entry_delay: 60s}\n", "settings.entry_delay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseInstallation([]byte(tc.yaml), testKey)
			if !errors.Is(err, ErrInvalidInstallation) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestParseInstallation_SharedCodes: an import file where two users share a PIN, or a PIN is
// a duress code, is refused, naming the users and never the code.
func TestParseInstallation_SharedCodes(t *testing.T) {
	for _, tc := range []struct{ name, users, want string }{
		{"shared pin", `[{id: anna, number: 1, role: admin, pins: ["1234"]}, {id: erik, number: 2, role: user, pins: ["1234"]}]`, "erik"},
		{"pin is a duress code", `[{id: anna, number: 1, role: admin, pins: ["1234"], duress_pin: "9999"}, {id: erik, number: 2, role: user, pins: ["9999"]}]`, "erik"},
		{"own duress code", `[{id: anna, number: 1, role: admin, pins: ["1234", "9999"], duress_pin: "9999"}]`, "anna"},
		{"shared tag", `[{id: anna, number: 1, role: admin, tag_ids: ["04A1B2C3"]}, {id: erik, number: 2, role: user, tag_ids: ["04A1B2C3"]}]`, "erik"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseInstallation([]byte("areas: [{number: 1}]\nusers: "+tc.users+"\n"), testKey)
			if !errors.Is(err, ErrInvalidInstallation) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "anna") {
				t.Fatalf("error %v, want one naming %s and anna", err, tc.want)
			}
			if strings.Contains(err.Error(), "1234") || strings.Contains(err.Error(), "9999") || strings.Contains(err.Error(), "04A1B2C3") {
				t.Fatalf("error %q shows a code", err)
			}
		})
	}
}

// TestParseInstallation_ZeroIsNotUnset: "mains_report_delay: 0s" in an import file is a
// delay of 0, kept through export and re-import; an absent field takes the default.
func TestParseInstallation_ZeroIsNotUnset(t *testing.T) {
	const base = "areas: [{number: 1}]\nusers: [{id: anna, number: 1, role: admin, pins: [\"1234\"]}]\n"
	mainsReport := func(t *testing.T, inst *Installation) (reported bool, at time.Duration) {
		t.Helper()
		eng := NewEngine(inst, State{})
		effs, err := eng.Step(scenarioStart, Input{Kind: InMains, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range eventsOf(effs, KindMainsLost) {
			reported = reported || e.Report
		}
		if ra := eng.State().Mains.ReportAt; !ra.IsZero() {
			at = ra.Sub(scenarioStart)
		}
		return reported, at
	}
	zero, err := ParseInstallation([]byte(base+"settings: {mains_report_delay: 0s}\n"), testKey)
	if err != nil {
		t.Fatal(err)
	}
	if reported, at := mainsReport(t, zero); !reported || at != 0 {
		t.Fatalf("mains_report_delay 0s: reported at once %v, pending report in %s; want at once", reported, at)
	}
	out, err := MarshalInstallation(zero)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "mains_report_delay: 0s") {
		t.Fatalf("export lost the 0:\n%s", out)
	}
	again, err := ParseInstallation(out, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if reported, _ := mainsReport(t, again); !reported {
		t.Fatal("re-import of the export lost the 0 mains delay")
	}

	unset, err := ParseInstallation([]byte(base), testKey)
	if err != nil {
		t.Fatal(err)
	}
	if reported, at := mainsReport(t, unset); reported || at != DefaultMainsDelay {
		t.Fatalf("no mains_report_delay: reported at once %v, pending report in %s; want the default %s", reported, at, DefaultMainsDelay)
	}
	out, err = MarshalInstallation(unset)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "mains_report_delay") {
		t.Fatalf("export of an unset delay writes one:\n%s", out)
	}
}

// TestParseInstallation_UnknownNames: a misspelt zone type, role or weekday in an import file
// is refused with the name and where it is, never read as a default.
func TestParseInstallation_UnknownNames(t *testing.T) {
	const zone = "areas: [{number: 1}]\ndevices: [{id: d, driver: sim}]\nzones:\n  - {number: 1, area: 1, type: %s, device: d}\n"
	const user = "areas: [{number: 1}]\nusers:\n  - {id: a, number: 1, role: %s, pins: [\"1234\"]}\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"zone type typo", fmt.Sprintf(zone, "smok"), []string{`"smok"`, "zone type", "line 4"}},
		{"zone type number", fmt.Sprintf(zone, "4"), []string{`"4"`, "zone type", "line 4"}},
		{"zone type empty", fmt.Sprintf(zone, `""`), []string{"zone type", "line 4"}},
		{"zone type list", fmt.Sprintf(zone, "[fire]"), []string{"zone type", "line 4"}},
		{"role", fmt.Sprintf(user, "superuser"), []string{`"superuser"`, "role", "line 3"}},
		{"role number", fmt.Sprintf(user, "1"), []string{`"1"`, "role", "line 3"}},
		{"weekday", "areas: [{number: 1}]\nusers: [{id: a, number: 1, role: limited, windows: [{days: [1, 9], from: 60, to: 120}]}]\n", []string{"users[0].windows[0].days", "9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseInstallation([]byte(tc.yaml), testKey)
			if !errors.Is(err, ErrInvalidInstallation) {
				t.Fatalf("got %v, want an invalid installation", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

// TestStore_UnknownNamesAreErrors: a stored installation or state with a name this version
// does not know is an error naming it, never silently the zero value.
func TestStore_UnknownNamesAreErrors(t *testing.T) {
	for _, tc := range []struct{ name, js, want string }{
		{"installation role", `{"users":[{"id":"a","number":1,"role":"superuser"}]}`, `"superuser"`},
		{"installation zone type", `{"zones":[{"number":1,"type":"smok"}]}`, `"smok"`},
		{"state mode", `{"areas":[{"number":1,"mode":"armed_awya"}]}`, `"armed_awya"`},
		{"state method", `{"areas":[{"number":1,"how":"keypda"}]}`, `"keypda"`},
		{"state alarm kind", `{"areas":[{"number":1,"memory":[{"kind":"burglar"}]}]}`, `"burglar"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if strings.HasPrefix(tc.name, "installation") {
				err = json.Unmarshal([]byte(tc.js), new(Installation))
			} else {
				err = json.Unmarshal([]byte(tc.js), new(State))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
