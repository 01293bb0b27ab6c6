package web

// Broker is the MQTT broker as the installer's tools show it (to an admin and a granted
// installer only): where Zigbee2MQTT and rtl_433 connect, and with which accounts.
type Broker struct {
	URL string `json:"url"`
	// Username and Password are vakt's own account on its embedded broker (also in File);
	// empty with an external broker.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	File     string `json:"file,omitempty"`
	// External says the broker is not vakt's: its accounts are its own business.
	External bool `json:"external,omitempty"`
	// Accounts are the named accounts of the config file, never with their passwords.
	Accounts []BrokerAccount `json:"accounts"`
}

// BrokerAccount is a configured account on the embedded broker.
type BrokerAccount struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	// PasswordEnv names the environment variable holding its password, if it is there
	// rather than in the config file.
	PasswordEnv string `json:"password_env,omitempty"`
}
