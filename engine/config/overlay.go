package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/knadh/koanf/v2"
)

// Overlay returns c with the settings in set applied over it, then validated.
// It is the last layer, the command line's: `hub serve` collects the flags
// given on its command line into set and overlays them on what Load returned.
//
// set maps a setting's key as the reference lists it (server.listen,
// plugins.idle_timeout) to its value written as in the environment: a duration
// as 90s, a list comma-separated. Only the keys in set change. A key that is
// not a setting, or a value that does not parse, is a *FieldError naming the
// key; a secret's value is never quoted back.
func (c Config) Overlay(set map[string]string) (Config, error) {
	settings := map[string]Setting{}
	for _, s := range Settings() {
		if !strings.Contains(s.Key, "<") { // map entries (resilience.connectors.<connector>) have no flags
			settings[s.Key] = s
		}
	}
	keys := make([]string, 0, len(set))
	for key := range set {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		s, ok := settings[key]
		if !ok {
			return Config{}, &FieldError{Key: key, Msg: "is not a setting (hub config reference lists every setting)"}
		}
		k := koanf.New(".")
		if err := k.Set(key, set[key]); err != nil {
			return Config{}, &FieldError{Key: key, Msg: err.Error()}
		}
		err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "yaml", DecoderConfig: decoderConfig(&c)})
		if err != nil {
			if s.Secret {
				return Config{}, &FieldError{Key: key, Msg: "is not a valid " + s.Type}
			}
			return Config{}, &FieldError{Key: key, Msg: fmt.Sprintf("%q is not a valid %s", set[key], s.Type)}
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
