package hub

import "time"

// DemoInstallation returns the demo family's house and garage: the installation the demo
// runs and the scenario scripts test. Codes: anna (admin) 1234, duress 9999, tag 04A1B2C3;
// erik (user) 5678; lisa (limited, weekdays 07:00–21:00) 2468; ivan (installer) 7777.
func DemoInstallation(codeKey []byte) *Installation {
	inst := &Installation{
		Name:    "Demo family",
		CodeKey: codeKey,
		Areas: []Area{
			{Number: 1, Name: "House"},
			{Number: 2, Name: "Garage", ExitDelay: NewDuration(30 * time.Second), EntryDelay: NewDuration(20 * time.Second)},
		},
		Devices: []Device{
			{ID: "front_door", Name: "Front door", Driver: "sim", Model: "contact"},
			{ID: "hall_motion", Name: "Hall camera", Driver: "sim", Model: "motion"},
			{ID: "living_window", Name: "Living room window", Driver: "sim", Model: "contact"},
			{ID: "living_motion", Name: "Living room motion", Driver: "sim", Model: "motion"},
			{ID: "bedroom_window", Name: "Bedroom window", Driver: "sim", Model: "contact"},
			{ID: "kitchen_smoke", Name: "Kitchen smoke detector", Driver: "sim", Model: "smoke"},
			{ID: "bathroom_water", Name: "Bathroom water leak", Driver: "sim", Model: "water"},
			{ID: "panic_button", Name: "Bedside panic button", Driver: "sim", Model: "panic"},
			{ID: "garage_door", Name: "Garage door", Driver: "sim", Model: "contact"},
			{ID: "garage_motion", Name: "Garage motion", Driver: "sim", Model: "motion"},
			{ID: "garage_smoke", Name: "Garage smoke detector", Driver: "sim", Model: "smoke"},
			{ID: "back_door", Name: "Back door (wired)", Driver: "gpio", Model: "wired zone"},
			{ID: "hall_siren", Name: "Hall siren", Driver: "sim", Model: "siren", Kind: "siren", Area: 1},
			{ID: "garage_siren", Name: "Garage siren", Driver: "sim", Model: "siren", Kind: "siren", Area: 2},
			{ID: "hall_keypad", Name: "Hall keypad", Driver: "sim", Model: "keypad", Kind: "keypad", Area: 1},
			{ID: "coffee_plug", Name: "Coffee maker plug", Driver: "sim", Model: "plug", Kind: "plug", Area: 1},
			{ID: "front_lock", Name: "Yale Doorman", Driver: "sim", Model: "lock", Kind: "lock", Area: 1},
		},
		Zones: []Zone{
			{Number: 1, Name: "Front door", Area: 1, Type: ZoneEntryExit, Device: "front_door", Chime: true},
			{Number: 2, Name: "Hall camera", Area: 1, Type: ZoneFollower, Device: "hall_motion", Interior: true, Night: true},
			{Number: 3, Name: "Living room window", Area: 1, Type: ZoneInstant, Device: "living_window"},
			{Number: 4, Name: "Living room motion", Area: 1, Type: ZoneInstant, Device: "living_motion", Interior: true},
			{Number: 5, Name: "Bedroom window", Area: 1, Type: ZoneInstant, Device: "bedroom_window"},
			{Number: 6, Name: "Kitchen smoke", Area: 1, Type: ZoneFire, Device: "kitchen_smoke"},
			{Number: 7, Name: "Bathroom water", Area: 1, Type: ZoneTechnical, Device: "bathroom_water"},
			{Number: 8, Name: "Panic button", Area: 1, Type: ZonePanic, Device: "panic_button"},
			{Number: 9, Name: "Garage door", Area: 2, Type: ZoneEntryExit, Device: "garage_door"},
			{Number: 10, Name: "Garage motion", Area: 2, Type: ZoneInstant, Device: "garage_motion", Interior: true},
			{Number: 11, Name: "Garage smoke", Area: 2, Type: ZoneFire, Device: "garage_smoke"},
			{Number: 12, Name: "Back door", Area: 1, Type: ZoneEntryExit, Device: "back_door"},
		},
		Users: []User{
			{ID: "anna", Number: 1, Name: "Anna", Role: RoleAdmin},
			{ID: "erik", Number: 2, Name: "Erik", Role: RoleUser},
			{ID: "lisa", Number: 3, Name: "Lisa", Role: RoleLimited, Areas: []int{1},
				Windows: []Window{{Days: []time.Weekday{1, 2, 3, 4, 5}, From: 7 * 60, To: 21 * 60}}},
			{ID: "ivan", Number: 9, Name: "Ivan (installer)", Role: RoleInstaller},
		},
	}
	must := func(err error) {
		if err != nil {
			panic(err) // the demo's own codes are well-formed
		}
	}
	u := inst.Users
	must(u[0].SetCode(codeKey, "1234"))
	must(u[0].SetDuress(codeKey, "9999"))
	must(u[0].AddTag(codeKey, "04A1B2C3"))
	must(u[1].SetCode(codeKey, "5678"))
	must(u[2].SetCode(codeKey, "2468"))
	must(u[3].SetCode(codeKey, "7777"))
	return inst
}
