package hub

import (
	"fmt"
	"strings"
	"time"
)

// EventKind names what happened. The words are the ones an installer reads in the history.
type EventKind uint8

// Event kinds. Kinds with a Contact ID code can be reported to the monitoring station; the
// others are history only.
const (
	KindNone EventKind = iota
	KindArm
	KindStayArm
	KindDisarm
	KindBurglary
	KindFire
	KindPanic
	KindDuress
	KindTamper
	KindWater
	KindTechnical
	KindMainsLost
	KindHubBatteryLow
	KindDeviceBatteryLow
	KindDeviceMissing
	KindDeviceFault
	KindJamming
	KindUplinkFault
	KindSirenFault
	KindDiskFault
	KindBypass
	KindForceArm
	KindCancel
	KindWrongCodes
	KindManualTest
	KindPeriodicTest
	KindServiceMode
	KindWalkTest
	KindExitDelay
	KindEntryDelay
	KindArmingCancelled
	KindArmRefused
	KindAlarmAborted
	KindSwingerShutdown
	KindWalkActivation
	KindAcknowledge
	KindWrongCode
	KindInstallerAccess
	KindSilence
	KindZoneOut
	KindConfigChange
	KindDeviceCommand
	// KindBusFault: a driver has been off its MQTT broker too long, so the sensors it reads
	// go unheard. Contact ID 333 "expansion module failure" (SIA ET/ER): to the station, a
	// bridge such as Zigbee2MQTT or rtl_433 is the expansion module its zones hang on.
	KindBusFault
	// KindPhotos says alarm photos were taken or sent to the station (history only).
	KindPhotos
	// KindScheduleWarning: a scheduled arming is ScheduleWarning away (the keypads chime).
	KindScheduleWarning
	// KindScheduleMissed: a schedule did not run: vakt was not running at its time (more
	// than ScheduleGrace ago), or the area was not as the schedule expects.
	KindScheduleMissed
	// KindAlarmSeen: a user has seen an alarm's notification (InAlarmSeen).
	KindAlarmSeen
	kindCount
)

// Code is how a kind is reported to the monitoring station: the Contact ID event code and the
// SIA DC-03 codes for the event and for its restore (DESIGN §5).
type Code struct {
	ContactID  int
	SIA        string
	SIARestore string
}

type kindInfo struct {
	name string
	code Code
}

var kinds = [kindCount]kindInfo{
	KindNone:             {"none", Code{}},
	KindArm:              {"arm", Code{401, "OP", "CL"}},
	KindStayArm:          {"stay_arm", Code{441, "OP", "NL"}},
	KindDisarm:           {"disarm", Code{401, "OP", "CL"}},
	KindBurglary:         {"burglary", Code{130, "BA", "BR"}},
	KindFire:             {"fire", Code{110, "FA", "FR"}},
	KindPanic:            {"panic", Code{120, "PA", "PR"}},
	KindDuress:           {"duress", Code{121, "HA", "HR"}},
	KindTamper:           {"tamper", Code{137, "TA", "TR"}},
	KindWater:            {"water", Code{154, "WA", "WH"}},
	KindTechnical:        {"technical", Code{150, "UA", "UR"}},
	KindMainsLost:        {"mains_lost", Code{301, "AT", "AR"}},
	KindHubBatteryLow:    {"hub_battery_low", Code{302, "YT", "YR"}},
	KindDeviceBatteryLow: {"device_battery_low", Code{384, "XT", "XR"}},
	KindDeviceMissing:    {"device_missing", Code{381, "UY", "UJ"}},
	KindDeviceFault:      {"device_fault", Code{380, "UT", "UJ"}},
	KindJamming:          {"jamming", Code{344, "XQ", "XH"}},
	KindUplinkFault:      {"uplink_fault", Code{350, "YC", "YK"}},
	KindSirenFault:       {"siren_fault", Code{321, "YA", "YH"}},
	KindDiskFault:        {"disk_fault", Code{300, "IA", "IR"}},
	KindBypass:           {"bypass", Code{570, "UB", "UU"}},
	KindForceArm:         {"force_arm", Code{574, "CF", "CF"}},
	KindCancel:           {"cancel", Code{406, "OC", "OC"}},
	KindWrongCodes:       {"wrong_codes", Code{461, "JA", "JA"}},
	KindManualTest:       {"manual_test", Code{601, "RX", "RX"}},
	KindPeriodicTest:     {"periodic_test", Code{602, "RP", "RP"}},
	KindServiceMode:      {"service_mode", Code{627, "LB", "LX"}},
	KindWalkTest:         {"walk_test", Code{607, "TS", "TE"}},
	KindExitDelay:        {"exit_delay", Code{}},
	KindEntryDelay:       {"entry_delay", Code{}},
	KindArmingCancelled:  {"arming_cancelled", Code{}},
	KindArmRefused:       {"arm_refused", Code{}},
	KindAlarmAborted:     {"alarm_aborted", Code{}},
	KindSwingerShutdown:  {"swinger_shutdown", Code{}},
	KindWalkActivation:   {"walk_activation", Code{}},
	KindAcknowledge:      {"acknowledge", Code{}},
	KindWrongCode:        {"wrong_code", Code{}},
	KindInstallerAccess:  {"installer_access", Code{}},
	KindSilence:          {"silence", Code{}},
	KindZoneOut:          {"zone_out", Code{}},
	KindConfigChange:     {"config_change", Code{306, "YG", "YG"}},
	KindDeviceCommand:    {"device_command", Code{}},
	KindBusFault:         {"bus_fault", Code{333, "ET", "ER"}},
	KindPhotos:           {"photos", Code{}},
	KindScheduleWarning:  {"schedule_warning", Code{}},
	KindScheduleMissed:   {"schedule_missed", Code{}},
	KindAlarmSeen:        {"alarm_seen", Code{}},
}

// String returns the kind's name as written in the history and in scenario scripts.
func (k EventKind) String() string {
	if k < kindCount {
		return kinds[k].name
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Code returns the station codes of the kind; a zero Code means history only.
func (k EventKind) Code() Code {
	if k < kindCount {
		return kinds[k].code
	}
	return Code{}
}

// ParseEventKind returns the kind with the given name.
func ParseEventKind(s string) (EventKind, error) {
	for k := range kindCount {
		if kinds[k].name == s {
			return k, nil
		}
	}
	return KindNone, fmt.Errorf("unknown event kind %q", s)
}

// MarshalText writes the kind's name, so the log and the API read as words.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *EventKind) UnmarshalText(b []byte) error {
	v, err := ParseEventKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Event is one entry of the history and of the outbox to the monitoring station.
type Event struct {
	// Seq numbers every event of the installation, gap-free from 1; it is the log key and
	// the station's idempotency key.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Area is the area number, 0 for the hub itself.
	Area int       `json:"area"`
	Kind EventKind `json:"kind"`
	// Restore marks the end of a condition (Contact ID qualifier 3, SIA restore code);
	// for arm and disarm it is set on arming (a "closing").
	Restore bool `json:"restore,omitempty"`
	// Report says the engine wants the event sent to the monitoring station.
	Report bool `json:"report,omitempty"`
	// ContactID and SIA are the codes sent to the station, empty for history-only events.
	ContactID int    `json:"cid,omitempty"`
	SIA       string `json:"sia,omitempty"`
	// Zone is the zone number and ZoneName its name. Events of older stores carry the user
	// number here for arm, disarm and user actions; new ones carry it in UserNumber.
	Zone     int    `json:"zone,omitempty"`
	ZoneName string `json:"zone_name,omitempty"`
	Device   string `json:"device,omitempty"`
	// DeviceName is the device's name, as the family calls it.
	DeviceName string `json:"device_name,omitempty"`
	User       string `json:"user,omitempty"`
	// UserNumber is the user's number, which Contact ID sends in the zone field of arm,
	// disarm and other user events.
	UserNumber int    `json:"user_number,omitempty"`
	How        Method `json:"how,omitempty"`
	Mode       Mode   `json:"mode,omitempty"`
	// Note is a short human detail, such as the reasons an arming was refused.
	Note string `json:"note,omitempty"`
}

// Qualifier returns the Contact ID qualifier: 1 new event or opening, 3 restore or closing.
func (e Event) Qualifier() int {
	if e.Restore {
		return 3
	}
	return 1
}

// String renders the event on one readable line, as the demo and the logs print it.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s", e.Seq, e.Time.Format("15:04:05"))
	if e.Area != 0 {
		fmt.Fprintf(&b, " area %d", e.Area)
	}
	b.WriteString(" ")
	b.WriteString(e.Kind.String())
	if e.Restore {
		switch e.Kind {
		case KindArm, KindStayArm, KindDisarm:
		default:
			b.WriteString(" restored")
		}
	}
	if e.Mode != ModeDisarmed {
		fmt.Fprintf(&b, " %s", e.Mode)
	}
	switch {
	case e.ZoneName != "":
		fmt.Fprintf(&b, " %s (zone %d)", e.ZoneName, e.Zone)
	case e.Zone != 0 && e.User == "":
		fmt.Fprintf(&b, " zone %d", e.Zone)
	case e.DeviceName != "":
		fmt.Fprintf(&b, " %s (%s)", e.DeviceName, e.Device)
	case e.Device != "":
		fmt.Fprintf(&b, " device %s", e.Device)
	}
	if e.User != "" {
		fmt.Fprintf(&b, " by %s", e.User)
	}
	if e.How != HowNone {
		fmt.Fprintf(&b, " via %s", e.How)
	}
	if e.Note != "" {
		fmt.Fprintf(&b, " (%s)", e.Note)
	}
	if e.Report {
		fmt.Fprintf(&b, " → station CID %d%03d SIA %s", e.Qualifier(), e.ContactID, e.SIA)
	}
	return b.String()
}

// EventKinds returns every event kind but KindNone, in order.
func EventKinds() []EventKind {
	out := make([]EventKind, 0, kindCount-1)
	for k := KindNone + 1; k < kindCount; k++ {
		out = append(out, k)
	}
	return out
}
