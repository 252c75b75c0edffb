// Package config loads Roomgate's settings: embedded defaults, then an
// optional YAML file, then ROOMGATE_<KEY> environment variables (dots become
// underscores). It rejects unknown keys and bad values with a message that
// names the key and what is accepted, so that a typo stops start-up instead of
// silently running with a default. Components receive typed sub-structs,
// never the loader.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// EnvPrefix is the prefix of the environment variables that override keys.
const EnvPrefix = "ROOMGATE"

// Config is the whole configuration tree.
type Config struct {
	DataDir       string   `mapstructure:"data_dir"`
	AdminPassword string   `mapstructure:"admin_password"`
	Database      Database `mapstructure:"database"`
	Log           Log      `mapstructure:"log"`
	SIP           SIP      `mapstructure:"sip"`
	HTTP          HTTP     `mapstructure:"http"`
	SMTP          SMTP     `mapstructure:"smtp"`
	H323          H323     `mapstructure:"h323"`
	RTP           RTP      `mapstructure:"rtp"`
	Audio         Audio    `mapstructure:"audio"`
	Video         Video    `mapstructure:"video"`
	RTSP          RTSP     `mapstructure:"rtsp"`
	Invite        Invite   `mapstructure:"invite"`
	DTMF          DTMF     `mapstructure:"dtmf"`
	IVR           IVR      `mapstructure:"ivr"`
	Security      Security `mapstructure:"security"`
}

// Database selects the store: SQLite under data_dir, or PostgreSQL by DSN.
type Database struct {
	DSN string `mapstructure:"dsn"`
}

// SMTP configures the sender of e-mail invitations.
type SMTP struct {
	Host     string        `mapstructure:"host"`
	Port     int           `mapstructure:"port"`
	Username string        `mapstructure:"username"`
	Password string        `mapstructure:"password"`
	From     string        `mapstructure:"from"`
	TLS      string        `mapstructure:"tls"`
	Timeout  time.Duration `mapstructure:"timeout"`
}

// Video configures the conference video format and switching.
type Video struct {
	Enabled        bool          `mapstructure:"enabled"`
	MaxWidth       int           `mapstructure:"max_width"`
	MaxHeight      int           `mapstructure:"max_height"`
	MaxFPS         int           `mapstructure:"max_fps"`
	MaxBitrateKbps int           `mapstructure:"max_bitrate_kbps"`
	SwitchHold     time.Duration `mapstructure:"switch_hold"`
}

// RTSP configures IP camera pulls.
type RTSP struct {
	Transport      string        `mapstructure:"transport"`
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	ReadTimeout    time.Duration `mapstructure:"read_timeout"`
	Retries        int           `mapstructure:"retries"`
	Reconnects     int           `mapstructure:"reconnects"`
	BackoffInitial time.Duration `mapstructure:"backoff_initial"`
	BackoffMax     time.Duration `mapstructure:"backoff_max"`
}

// Invite configures automatic calls to invitees.
type Invite struct {
	Retries       int           `mapstructure:"retries"`
	RetryInterval time.Duration `mapstructure:"retry_interval"`
}

// DTMF configures digit methods and the in-call key map.
type DTMF struct {
	TelephoneEvent bool   `mapstructure:"telephone_event"`
	KeyMap         string `mapstructure:"key_map"`
}

// IVR configures the lobby that asks for a conference ID and PIN.
type IVR struct {
	LobbyNumbers []string      `mapstructure:"lobby_numbers"`
	DigitTimeout time.Duration `mapstructure:"digit_timeout"`
	EntryTimeout time.Duration `mapstructure:"entry_timeout"`
	Attempts     int           `mapstructure:"attempts"`
	PromptsDir   string        `mapstructure:"prompts_dir"`
}

// Security configures brute-force limits.
type Security struct {
	PINFailures int           `mapstructure:"pin_failures"`
	PINWindow   time.Duration `mapstructure:"pin_window"`
	PINCooldown time.Duration `mapstructure:"pin_cooldown"`
}

// Log selects the log level and format.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// SIP configures the SIP listener.
type SIP struct {
	Listen         string        `mapstructure:"listen"`
	PublicAddress  string        `mapstructure:"public_address"`
	AnswerDelay    time.Duration `mapstructure:"answer_delay"`
	SessionExpires time.Duration `mapstructure:"session_expires"`
	MinSE          time.Duration `mapstructure:"min_se"`
	UserAgent      string        `mapstructure:"user_agent"`
	RingTimeout    time.Duration `mapstructure:"ring_timeout"`
	OutboundProxy  string        `mapstructure:"outbound_proxy"`
	Trunks         []string      `mapstructure:"trunks"`
	Realm          string        `mapstructure:"realm"`
}

// HTTP configures the REST API listener.
type HTTP struct {
	Listen    string `mapstructure:"listen"`
	PublicURL string `mapstructure:"public_url"`
}

// H323 configures the H.323 call signalling listener and the gatekeeper.
type H323 struct {
	Listen       string        `mapstructure:"listen"`
	Gatekeeper   string        `mapstructure:"gatekeeper"`
	GatekeeperID string        `mapstructure:"gatekeeper_id"`
	Alias        string        `mapstructure:"alias"`
	TimeToLive   time.Duration `mapstructure:"time_to_live"`
	FastStart    bool          `mapstructure:"fast_start"`
	Tunnelling   bool          `mapstructure:"tunnelling"`
}

// RTP configures media ports.
type RTP struct {
	Bind    string        `mapstructure:"bind"`
	PortMin int           `mapstructure:"port_min"`
	PortMax int           `mapstructure:"port_max"`
	Timeout time.Duration `mapstructure:"timeout"`
}

// Audio configures codecs and mixing.
type Audio struct {
	Codecs     []string `mapstructure:"codecs"`
	MaxTalkers int      `mapstructure:"max_talkers"`
}

// KnownCodecs are the audio codec names accepted in audio.codecs.
var knownCodecs = []string{"opus", "G722", "PCMU", "PCMA"}

// KeyError says which key is wrong and what it accepts.
type KeyError struct {
	Key      string
	Value    string
	Accepted string
}

func (e *KeyError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("config key %s: %s", e.Key, e.Accepted)
	}
	return fmt.Sprintf("config key %s: bad value %q: %s", e.Key, e.Value, e.Accepted)
}

// ErrInvalid is wrapped by every configuration error.
var ErrInvalid = errors.New("invalid configuration")

func (e *KeyError) Unwrap() error { return ErrInvalid }

// Default returns the embedded defaults, ignoring the environment.
func Default() (*Config, error) { return load("", nil) }

// Load reads the defaults, then the YAML file at path (when not empty), then
// the ROOMGATE_* variables of environ (os.Environ() in production), and
// validates the result.
func Load(path string, environ []string) (*Config, error) { return load(path, environ) }

func load(path string, environ []string) (*Config, error) {
	v := viper.New()
	defaults := viper.New()
	defaults.SetConfigType("yaml")
	if err := defaults.ReadConfig(bytes.NewReader(defaultsYAML)); err != nil {
		return nil, fmt.Errorf("reading embedded defaults: %w", err)
	}
	for _, k := range defaults.AllKeys() {
		v.SetDefault(k, defaults.Get(k))
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading config file: %w", err)
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("parsing config file %s: %w", path, err)
		}
		for _, k := range v.AllKeys() {
			if !defaults.IsSet(k) && !isParentOfKnown(defaults, k) {
				return nil, &KeyError{Key: k, Accepted: "unknown key (see the keys of the embedded defaults: roomgate config defaults)"}
			}
		}
	}
	// Environment: only keys that exist may be overridden; an unknown
	// ROOMGATE_ variable is an error too, since it is almost always a typo.
	known := map[string]string{}
	for _, k := range defaults.AllKeys() {
		known[EnvPrefix+"_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = k
	}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix+"_") {
			continue
		}
		k, ok := known[name]
		if !ok {
			return nil, &KeyError{Key: name, Accepted: "unknown environment variable; every key is ROOMGATE_ + the key in upper case with dots as underscores"}
		}
		if _, isList := defaults.Get(k).([]any); isList {
			v.Set(k, splitList(val))
		} else {
			v.Set(k, val)
		}
	}
	var c Config
	err := v.UnmarshalExact(&c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
	)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, decodeError(err))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func isParentOfKnown(v *viper.Viper, k string) bool {
	for _, d := range v.AllKeys() {
		if strings.HasPrefix(d, k+".") {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// decodeError turns mapstructure's messages into ones that name the key in
// the dotted form users write.
func decodeError(err error) error {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "decoding failed due to the following error(s):\n\n", "")
	return errors.New(msg)
}

// Validate checks every value and reports the first bad key.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.DataDir) == "" {
		return &KeyError{Key: "data_dir", Accepted: "must name a directory"}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return &KeyError{Key: "log.level", Value: c.Log.Level, Accepted: "one of debug, info, warn, error"}
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return &KeyError{Key: "log.format", Value: c.Log.Format, Accepted: "one of text, json"}
	}
	if err := checkListen("sip.listen", c.SIP.Listen); err != nil {
		return err
	}
	if err := checkListen("http.listen", c.HTTP.Listen); err != nil {
		return err
	}
	if err := checkListen("h323.listen", c.H323.Listen); err != nil {
		return err
	}
	if c.SIP.PublicAddress != "" && strings.ContainsAny(c.SIP.PublicAddress, " /@;<>\"") {
		return &KeyError{Key: "sip.public_address", Value: c.SIP.PublicAddress, Accepted: "a host name or IP address, without port or scheme"}
	}
	if c.SIP.AnswerDelay < 0 || c.SIP.AnswerDelay > time.Minute {
		return &KeyError{Key: "sip.answer_delay", Value: c.SIP.AnswerDelay.String(), Accepted: "a duration between 0s and 1m"}
	}
	if c.SIP.RingTimeout < time.Second || c.SIP.RingTimeout > 10*time.Minute {
		return &KeyError{Key: "sip.ring_timeout", Value: c.SIP.RingTimeout.String(), Accepted: "a duration between 1s and 10m"}
	}
	if c.SIP.OutboundProxy != "" && strings.ContainsAny(c.SIP.OutboundProxy, " /@;<>\"") {
		return &KeyError{Key: "sip.outbound_proxy", Value: c.SIP.OutboundProxy, Accepted: "host or host:port of the proxy for #sip:user call strings"}
	}
	if c.SIP.MinSE < 90*time.Second {
		return &KeyError{Key: "sip.min_se", Value: c.SIP.MinSE.String(), Accepted: "a duration of at least 90s (RFC 4028)"}
	}
	if c.SIP.SessionExpires < c.SIP.MinSE {
		return &KeyError{Key: "sip.session_expires", Value: c.SIP.SessionExpires.String(), Accepted: "a duration not below sip.min_se"}
	}
	if _, err := netip.ParseAddr(c.RTP.Bind); err != nil {
		return &KeyError{Key: "rtp.bind", Value: c.RTP.Bind, Accepted: "an IP address such as 0.0.0.0, 127.0.0.1 or ::"}
	}
	if c.RTP.PortMin < 1024 || c.RTP.PortMin > 65534 || c.RTP.PortMin%2 != 0 {
		return &KeyError{Key: "rtp.port_min", Value: strconv.Itoa(c.RTP.PortMin), Accepted: "an even port between 1024 and 65534"}
	}
	if c.RTP.PortMax > 65535 || c.RTP.PortMax < c.RTP.PortMin+1 {
		return &KeyError{Key: "rtp.port_max", Value: strconv.Itoa(c.RTP.PortMax), Accepted: "a port above rtp.port_min and at most 65535"}
	}
	if c.RTP.Timeout < time.Second || c.RTP.Timeout > time.Hour {
		return &KeyError{Key: "rtp.timeout", Value: c.RTP.Timeout.String(), Accepted: "a duration between 1s and 1h"}
	}
	if len(c.Audio.Codecs) == 0 {
		return &KeyError{Key: "audio.codecs", Accepted: "a non-empty list of " + strings.Join(knownCodecs, ", ")}
	}
	seen := map[string]bool{}
	for i, name := range c.Audio.Codecs {
		idx := slices.IndexFunc(knownCodecs, func(k string) bool { return strings.EqualFold(k, name) })
		if idx < 0 {
			return &KeyError{Key: "audio.codecs", Value: name, Accepted: "codec names among " + strings.Join(knownCodecs, ", ")}
		}
		canon := knownCodecs[idx]
		if seen[canon] {
			return &KeyError{Key: "audio.codecs", Value: name, Accepted: "each codec at most once"}
		}
		seen[canon] = true
		c.Audio.Codecs[i] = canon
	}
	if c.Audio.MaxTalkers < 1 || c.Audio.MaxTalkers > 16 {
		return &KeyError{Key: "audio.max_talkers", Value: strconv.Itoa(c.Audio.MaxTalkers), Accepted: "a number between 1 and 16"}
	}
	return c.validateServices()
}

// validateServices checks the keys of the database, e-mail, H.323
// gatekeeper, DTMF, lobby and security sections.
func (c *Config) validateServices() error {
	if d := c.Database.DSN; d != "" && !strings.HasPrefix(d, "postgres://") && !strings.HasPrefix(d, "postgresql://") {
		return &KeyError{Key: "database.dsn", Value: redactDSN(d), Accepted: "empty (SQLite under data_dir) or a postgres:// URL"}
	}
	if u := c.HTTP.PublicURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return &KeyError{Key: "http.public_url", Value: u, Accepted: "an absolute http:// or https:// URL"}
		}
	}
	if c.SMTP.Host != "" && strings.ContainsAny(c.SMTP.Host, " /@:;<>\"") {
		return &KeyError{Key: "smtp.host", Value: c.SMTP.Host, Accepted: "a host name or IP address, without port"}
	}
	if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
		return &KeyError{Key: "smtp.port", Value: strconv.Itoa(c.SMTP.Port), Accepted: "a port between 1 and 65535"}
	}
	if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
		return &KeyError{Key: "smtp.from", Value: c.SMTP.From, Accepted: "an address such as \"Roomgate <roomgate@example.com>\""}
	}
	switch c.SMTP.TLS {
	case "none", "starttls", "tls":
	default:
		return &KeyError{Key: "smtp.tls", Value: c.SMTP.TLS, Accepted: "one of none, starttls, tls"}
	}
	if c.SMTP.Timeout < time.Second || c.SMTP.Timeout > 10*time.Minute {
		return &KeyError{Key: "smtp.timeout", Value: c.SMTP.Timeout.String(), Accepted: "a duration between 1s and 10m"}
	}
	if g := c.H323.Gatekeeper; g != "" && strings.ContainsAny(g, " /@;<>\"") {
		return &KeyError{Key: "h323.gatekeeper", Value: g, Accepted: "host or host:port of the gatekeeper (RAS, UDP 1719 by default)"}
	}
	if a := c.H323.Alias; a == "" || len(a) > 64 {
		return &KeyError{Key: "h323.alias", Value: a, Accepted: "an h323-ID of 1 to 64 characters"}
	}
	if c.H323.TimeToLive < 30*time.Second || c.H323.TimeToLive > 24*time.Hour {
		return &KeyError{Key: "h323.time_to_live", Value: c.H323.TimeToLive.String(), Accepted: "a duration between 30s and 24h"}
	}
	for _, n := range c.IVR.LobbyNumbers {
		if n == "" || len(n) > 32 || strings.ContainsAny(n, " @:;<>\"") {
			return &KeyError{Key: "ivr.lobby_numbers", Value: n, Accepted: "dialled user parts of 1 to 32 characters"}
		}
	}
	if c.IVR.DigitTimeout < time.Second || c.IVR.DigitTimeout > time.Minute {
		return &KeyError{Key: "ivr.digit_timeout", Value: c.IVR.DigitTimeout.String(), Accepted: "a duration between 1s and 1m"}
	}
	if c.IVR.EntryTimeout < 10*time.Second || c.IVR.EntryTimeout > 10*time.Minute {
		return &KeyError{Key: "ivr.entry_timeout", Value: c.IVR.EntryTimeout.String(), Accepted: "a duration between 10s and 10m"}
	}
	if c.IVR.Attempts < 1 || c.IVR.Attempts > 10 {
		return &KeyError{Key: "ivr.attempts", Value: strconv.Itoa(c.IVR.Attempts), Accepted: "a number between 1 and 10"}
	}
	if _, err := c.SIP.ParseTrunks(); err != nil {
		return err
	}
	if r := c.SIP.Realm; r == "" || len(r) > 64 || strings.ContainsAny(r, " \"\\\r\n") {
		return &KeyError{Key: "sip.realm", Value: r, Accepted: "1 to 64 characters without spaces, quotes or backslashes"}
	}
	if c.Video.MaxWidth < 128 || c.Video.MaxWidth > 4096 || c.Video.MaxWidth%16 != 0 {
		return &KeyError{Key: "video.max_width", Value: strconv.Itoa(c.Video.MaxWidth), Accepted: "a multiple of 16 between 128 and 4096"}
	}
	if c.Video.MaxHeight < 96 || c.Video.MaxHeight > 2304 || c.Video.MaxHeight%8 != 0 {
		return &KeyError{Key: "video.max_height", Value: strconv.Itoa(c.Video.MaxHeight), Accepted: "a multiple of 8 between 96 and 2304"}
	}
	if c.Video.MaxFPS < 1 || c.Video.MaxFPS > 60 {
		return &KeyError{Key: "video.max_fps", Value: strconv.Itoa(c.Video.MaxFPS), Accepted: "a number between 1 and 60"}
	}
	if c.Video.MaxBitrateKbps < 64 || c.Video.MaxBitrateKbps > 20000 {
		return &KeyError{Key: "video.max_bitrate_kbps", Value: strconv.Itoa(c.Video.MaxBitrateKbps), Accepted: "a number between 64 and 20000"}
	}
	if c.Video.SwitchHold < 0 || c.Video.SwitchHold > 30*time.Second {
		return &KeyError{Key: "video.switch_hold", Value: c.Video.SwitchHold.String(), Accepted: "a duration between 0s and 30s"}
	}
	switch c.RTSP.Transport {
	case "auto", "udp", "tcp":
	default:
		return &KeyError{Key: "rtsp.transport", Value: c.RTSP.Transport, Accepted: "one of auto, udp, tcp"}
	}
	for _, d := range []struct {
		key      string
		v        time.Duration
		min, max time.Duration
	}{
		{"rtsp.connect_timeout", c.RTSP.ConnectTimeout, time.Second, 5 * time.Minute},
		{"rtsp.read_timeout", c.RTSP.ReadTimeout, time.Second, 5 * time.Minute},
		{"rtsp.backoff_initial", c.RTSP.BackoffInitial, 10 * time.Millisecond, time.Minute},
		{"rtsp.backoff_max", c.RTSP.BackoffMax, c.RTSP.BackoffInitial, time.Hour},
	} {
		if d.v < d.min || d.v > d.max {
			return &KeyError{Key: d.key, Value: d.v.String(), Accepted: "a duration between " + d.min.String() + " and " + d.max.String()}
		}
	}
	if c.RTSP.Retries < 0 || c.RTSP.Retries > 100 {
		return &KeyError{Key: "rtsp.retries", Value: strconv.Itoa(c.RTSP.Retries), Accepted: "a number between 0 and 100"}
	}
	if c.RTSP.Reconnects < -1 || c.RTSP.Reconnects > 10000 {
		return &KeyError{Key: "rtsp.reconnects", Value: strconv.Itoa(c.RTSP.Reconnects), Accepted: "-1 (never), 0 (always) or a number of attempts up to 10000"}
	}
	if c.Invite.Retries < 0 || c.Invite.Retries > 10 {
		return &KeyError{Key: "invite.retries", Value: strconv.Itoa(c.Invite.Retries), Accepted: "a number between 0 and 10"}
	}
	if c.Invite.RetryInterval < 5*time.Second || c.Invite.RetryInterval > time.Hour {
		return &KeyError{Key: "invite.retry_interval", Value: c.Invite.RetryInterval.String(), Accepted: "a duration between 5s and 1h"}
	}
	if c.Security.PINFailures < 1 || c.Security.PINFailures > 10000 {
		return &KeyError{Key: "security.pin_failures", Value: strconv.Itoa(c.Security.PINFailures), Accepted: "a number between 1 and 10000"}
	}
	if c.Security.PINWindow < time.Second || c.Security.PINWindow > 7*24*time.Hour {
		return &KeyError{Key: "security.pin_window", Value: c.Security.PINWindow.String(), Accepted: "a duration between 1s and 168h"}
	}
	if c.Security.PINCooldown < time.Second || c.Security.PINCooldown > 7*24*time.Hour {
		return &KeyError{Key: "security.pin_cooldown", Value: c.Security.PINCooldown.String(), Accepted: "a duration between 1s and 168h"}
	}
	return nil
}

// redactDSN hides a password in a DSN before it is printed.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return dsn
}

func checkListen(key, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return &KeyError{Key: key, Value: addr, Accepted: "host:port, e.g. 0.0.0.0:5060 or [::]:5060 (port 0 picks a free port)"}
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return &KeyError{Key: key, Value: addr, Accepted: "an IP address as host (0.0.0.0, 127.0.0.1, ::)"}
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return &KeyError{Key: key, Value: addr, Accepted: "a port between 0 and 65535"}
	}
	return nil
}

// Keys lists every configuration key with its environment variable name, for
// documentation and the "config keys" command.
func Keys() []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := prefix + f.Tag.Get("mapstructure")
			if f.Type.Kind() == reflect.Struct {
				walk(name+".", f.Type)
				continue
			}
			out = append(out, name)
		}
	}
	walk("", reflect.TypeFor[Config]())
	return out
}

// EnvName returns the environment variable that overrides key.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// DefaultsYAML returns the embedded defaults file, for "roomgate config defaults".
func DefaultsYAML() []byte { return slices.Clone(defaultsYAML) }

// Trunk is one SIP trunk of sip.trunks: digest credentials for calls to
// Host (and, for the first trunk, #tel: calls, which go to Host:Port).
type Trunk struct {
	Username, Password string
	Host               string
	Port               int // 0: 5060
}

// ParseTrunks reads sip.trunks, entries of the form
// username:password@host[:port] with user and password percent-encoded
// when they hold ':', '@' or '%'. A list of strings keeps the key settable
// from the environment (ROOMGATE_SIP_TRUNKS, comma-separated).
func (s SIP) ParseTrunks() ([]Trunk, error) {
	out := make([]Trunk, 0, len(s.Trunks))
	for _, entry := range s.Trunks {
		bad := func(why string) error {
			return &KeyError{Key: "sip.trunks", Value: redactTrunk(entry),
				Accepted: "entries username:password@host[:port], user and password percent-encoded (" + why + ")"}
		}
		cred, hostport, ok := strings.Cut(entry, "@")
		if !ok || strings.Contains(hostport, "@") {
			return nil, bad("one @ between credentials and host")
		}
		user, pass, ok := strings.Cut(cred, ":")
		if !ok || user == "" {
			return nil, bad("a username and a password")
		}
		var err error
		t := Trunk{}
		if t.Username, err = url.PathUnescape(user); err != nil {
			return nil, bad("bad percent-encoding in the username")
		}
		if t.Password, err = url.PathUnescape(pass); err != nil {
			return nil, bad("bad percent-encoding in the password")
		}
		t.Host = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
		if h, p, err := net.SplitHostPort(hostport); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, bad("a port between 1 and 65535")
			}
			t.Host, t.Port = h, n
		}
		if t.Host == "" || strings.ContainsAny(t.Host, " /;<>\"[]") {
			return nil, bad("a host name or IP address")
		}
		out = append(out, t)
	}
	return out, nil
}

// redactTrunk hides the password of a sip.trunks entry in messages.
func redactTrunk(entry string) string {
	cred, host, ok := strings.Cut(entry, "@")
	if !ok {
		return "(unparsable entry)"
	}
	user, _, _ := strings.Cut(cred, ":")
	return user + ":xxxxx@" + host
}
