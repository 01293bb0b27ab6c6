package notify

import (
	"fmt"
	"testing"
	"time"

	"vakt/hub"
)

type fakeNames struct{}

func (fakeNames) UserName(id string) string {
	return map[string]string{"anna": "Anna"}[id]
}

func (fakeNames) AreaName(n int) string { return map[int]string{2: "Garage"}[n] }

func TestText_Languages(t *testing.T) {
	at := time.Date(2026, 11, 24, 18, 2, 0, 0, time.UTC)
	tests := []struct {
		name            string
		ev              hub.Event
		svTitle, svBody string
		enTitle, enBody string
		alarm           bool
	}{
		{"disarm with code", hub.Event{Kind: hub.KindDisarm, Area: 1, User: "anna", How: hub.HowCode, Time: at},
			"Larmade av", "Anna larmade av med kod 18:02", "Disarmed", "Anna disarmed with code at 18:02", false},
		{"arm away with tag", hub.Event{Kind: hub.KindArm, Area: 1, User: "anna", How: hub.HowTag, Mode: hub.ModeArmedAway, Time: at},
			"Larmade på", "Anna larmade på (borta) med tagg 18:02", "Armed", "Anna armed (away) with tag at 18:02", false},
		{"arm garage home from web", hub.Event{Kind: hub.KindStayArm, Area: 2, User: "erik", How: hub.HowWeb, Mode: hub.ModeArmedHome, Time: at},
			"Garage: larmade på", "erik larmade på (hemma (skalskydd)) i webben 18:02", "Garage: armed", "erik armed (home) from the web at 18:02", false},
		{"disarm from Home Assistant", hub.Event{Kind: hub.KindDisarm, Area: 1, User: "anna", How: hub.HowHomeAssistant, Time: at},
			"Larmade av", "Anna larmade av från Home Assistant 18:02", "Disarmed", "Anna disarmed from Home Assistant at 18:02", false},
		{"burglary", hub.Event{Kind: hub.KindBurglary, Area: 2, ZoneName: "Garage door", Report: true, Time: at},
			"INBROTT", "Garage door (Garage) 18:02", "BURGLARY", "Garage door (Garage) at 18:02", true},
		{"fire", hub.Event{Kind: hub.KindFire, Area: 1, ZoneName: "Kitchen smoke", Report: true, Time: at},
			"BRAND", "Kitchen smoke 18:02", "FIRE", "Kitchen smoke at 18:02", true},
		{"not armed", hub.Event{Kind: hub.KindArmingCancelled, Area: 1, ZoneName: "Living room window", Note: "NOT ARMED: Living room window tripped during the exit delay", Time: at},
			"EJ LARMAT", "Tillkopplingen avbröts: Living room window 18:02", "NOT ARMED", "Arming was cancelled: Living room window at 18:02", false},
		{"scheduled arming refused", hub.Event{Kind: hub.KindArmingCancelled, Area: 2, How: hub.HowSchedule, Mode: hub.ModeArmedAway, Note: hub.ScheduleRefusedNote + "open: Garage door; missing: Garage motion", Time: at},
			"EJ LARMAT", "Schemalagd tillkoppling nekades (Garage): öppen: Garage door; saknas: Garage motion 18:02",
			"NOT ARMED", "The scheduled arming was refused (Garage): open: Garage door; missing: Garage motion at 18:02", false},
		{"scheduled arming in 5 minutes", hub.Event{Kind: hub.KindScheduleWarning, Area: 2, How: hub.HowSchedule, Mode: hub.ModeArmedAway, Note: "arming away at 22:00; not ready: open: Garage door", Time: at},
			"Larmar på om 5 minuter", "Garage larmas på (borta) enligt schema 22:00; inte redo: öppen: Garage door",
			"Arming in 5 minutes", "Garage arms (away) on schedule at 22:00; not ready: open: Garage door", false},
		{"scheduled arming in 5 minutes, ready", hub.Event{Kind: hub.KindScheduleWarning, Area: 2, How: hub.HowSchedule, Mode: hub.ModeArmedNight, Note: "arming night at 22:00", Time: at},
			"Larmar på om 5 minuter", "Garage larmas på (natt) enligt schema 22:00",
			"Arming in 5 minutes", "Garage arms (night) on schedule at 22:00", false},
		{"schedule missed", hub.Event{Kind: hub.KindScheduleMissed, Area: 2, How: hub.HowSchedule, Mode: hub.ModeArmedNight, Note: "scheduled arming night at Wed 22:00 not done: vakt was not running then", Time: at},
			"Schemat kördes inte", "Garage: schemalagd tillkoppling (natt) ons 22:00 gjordes inte: vakt var inte igång då",
			"Schedule not run", "Garage: scheduled arming night at Wed 22:00 not done: vakt was not running then", false},
		{"schedule disarm skipped", hub.Event{Kind: hub.KindScheduleMissed, Area: 2, How: hub.HowSchedule, Note: "scheduled disarming at Fri 06:30 not done: armed by anna, not by the schedule", Time: at},
			"Schemat kördes inte", "Garage: schemalagd frånkoppling fre 06:30 gjordes inte: larmat av anna, inte av schemat",
			"Schedule not run", "Garage: scheduled disarming at Fri 06:30 not done: armed by anna, not by the schedule", false},
		{"mains lost", hub.Event{Kind: hub.KindMainsLost, How: hub.HowSystem, Time: at},
			"Strömavbrott", "Centralen går på batteri sedan 18:02", "Mains lost", "The hub is on battery since 18:02", false},
		{"mains restored", hub.Event{Kind: hub.KindMainsLost, Restore: true, How: hub.HowSystem, Time: at},
			"Strömmen är tillbaka", "Centralen har ström igen 18:02", "Mains restored", "The hub has mains again at 18:02", false},
		{"low battery", hub.Event{Kind: hub.KindDeviceBatteryLow, DeviceName: "Hall camera", Time: at},
			"Lågt batteri", "Hall camera 18:02", "Low battery", "Hall camera at 18:02", false},
		{"missing", hub.Event{Kind: hub.KindDeviceMissing, DeviceName: "Back door", Time: at},
			"Enhet saknas", "Back door 18:02", "Device missing", "Back door at 18:02", false},
		{"path fault", hub.Event{Kind: hub.KindUplinkFault, Device: "primary", Time: at},
			"Fel på larmvägen", "Larmvägen primary till larmcentralen fungerar inte 18:02", "Station path fault", "The path primary to the monitoring station is down at 18:02", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, l := range []struct{ lang, title, body string }{{"sv", tc.svTitle, tc.svBody}, {"en", tc.enTitle, tc.enBody}} {
				m, ok := Text{Lang: l.lang, Names: fakeNames{}, Loc: time.UTC}.Message(tc.ev)
				if !ok {
					t.Fatalf("%s: not notified", l.lang)
				}
				if m.Title != l.title || m.Body != l.body || m.Alarm != tc.alarm {
					t.Errorf("%s: %q / %q (alarm %v), want %q / %q (alarm %v)", l.lang, m.Title, m.Body, m.Alarm, l.title, l.body, tc.alarm)
				}
			}
		})
	}
}

func TestClass_NeverNotified(t *testing.T) {
	for _, ev := range []hub.Event{
		{Kind: hub.KindDuress, Report: true, User: "anna"},
		{Kind: hub.KindBurglary, Note: "entry route, in local warning"}, // not yet reported
		{Kind: hub.KindBurglary, Restore: true, Report: true},
		{Kind: hub.KindMainsLost, Report: true, Note: "since 18:00"}, // the station's delayed report
		{Kind: hub.KindDeviceBatteryLow, Restore: true},
		{Kind: hub.KindAcknowledge},
		{Kind: hub.KindConfigChange},
	} {
		if c, ok := Class(ev); ok {
			t.Errorf("%s notified as %s", ev, c)
		}
	}
}

func TestText_MainsReminder(t *testing.T) {
	lost := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	m := Text{Lang: "sv", Loc: time.UTC}.MainsReminder(lost, 6*time.Hour)
	if m.Body != "Strömmen har varit borta i 6 h, sedan 12:00" {
		t.Errorf("sv: %q", m.Body)
	}
	m = Text{Lang: "en", Loc: time.UTC}.MainsReminder(lost, 6*time.Hour)
	if m.Body != "Mains has been out for 6 h, since 12:00" {
		t.Errorf("en: %q", m.Body)
	}
}

// TestText_EveryMethodHasWords keeps the words of every way of arming in both languages: a
// new hub.Method without them would read "Anna armed  at 18:02".
func TestText_EveryMethodHasWords(t *testing.T) {
	for l, w := range lang {
		for m := hub.HowCode; m.String() != fmt.Sprintf("method(%d)", uint8(m)); m++ {
			if w.how[m] == "" {
				t.Errorf("%s: no words for %s", l, m)
			}
		}
	}
}
