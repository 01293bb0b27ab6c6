package hub

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestInstallation_CodesUnique: a code or tag names one user, and a PIN is never anyone's
// duress code, so the engine never has to guess who operated the panel or whether it was
// under duress. The error names both users and never the code.
func TestInstallation_CodesUnique(t *testing.T) {
	user := func(in *Installation, id string) *User { return &in.Users[indexOf(in, "user", id)] }
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		edit func(*testing.T, *Installation)
		want []string // what the error names; none means valid
	}{
		{"demo", func(*testing.T, *Installation) {}, nil},
		{"two pins of one user", func(t *testing.T, in *Installation) { must(t, user(in, "erik").SetCode(testKey, "1111")) }, nil},
		{"shared pin", func(t *testing.T, in *Installation) {
			must(t, user(in, "erik").SetCode(testKey, "1234"))
		}, []string{"erik", "anna", "PIN"}},
		{"pin is another user's duress code", func(t *testing.T, in *Installation) {
			must(t, user(in, "erik").SetCode(testKey, "9999"))
		}, []string{"erik", "anna", "duress"}},
		{"duress code is another user's pin", func(t *testing.T, in *Installation) {
			must(t, user(in, "erik").SetDuress(testKey, "1234"))
		}, []string{"erik", "anna", "duress"}},
		{"pin is the user's own duress code", func(t *testing.T, in *Installation) {
			must(t, user(in, "anna").SetCode(testKey, "9999"))
		}, []string{"anna", "duress"}},
		{"shared duress code", func(t *testing.T, in *Installation) {
			must(t, user(in, "erik").SetDuress(testKey, "9999"))
		}, []string{"erik", "anna", "duress"}},
		{"shared tag", func(t *testing.T, in *Installation) {
			must(t, user(in, "lisa").AddTag(testKey, "04A1B2C3"))
		}, []string{"lisa", "anna", "tag"}},
		{"tag with a pin's digits", func(t *testing.T, in *Installation) {
			must(t, user(in, "lisa").AddTag(testKey, "1234"))
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inst := DemoInstallation(testKey)
			tc.edit(t, inst)
			err := inst.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidInstallation) {
				t.Fatalf("got %v, want an invalid installation", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			for _, code := range []string{"1234", "9999", "04A1B2C3"} {
				if strings.Contains(err.Error(), code) {
					t.Errorf("error %q shows a code", err)
				}
			}
			for _, u := range inst.Users {
				for _, h := range append(append(u.Codes, u.Tags...), u.Duress) {
					if h != "" && strings.Contains(err.Error(), h) {
						t.Errorf("error %q shows a hash", err)
					}
				}
			}
		})
	}
}

// TestInstallation_UnknownValues: values no name stands for, set in Go or read from an older
// or newer store, are errors naming the field, never taken for a default.
func TestInstallation_UnknownValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Installation)
		want string
	}{
		{"role", func(in *Installation) { in.Users[indexOf(in, "user", "erik")].Role = 9 }, "].role role(9) is unknown"},
		{"zone type", func(in *Installation) { in.Zones[0].Type = 99 }, "zones[0].type zonetype(99) is unknown"},
		{"weekday", func(in *Installation) {
			in.Users[indexOf(in, "user", "lisa")].Windows[0].Days = []time.Weekday{1, 7}
		}, "].windows[0].days: 7 is not a weekday"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst := DemoInstallation(testKey)
			tc.edit(inst)
			if err := inst.Validate(); !errors.Is(err, ErrInvalidInstallation) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
