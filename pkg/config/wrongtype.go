package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// TypeError lists the settings whose values Load could not read as their
// type (BACKUP_CREATOR_TIMEOUT=abc, `concurrency: x` in the file): a
// configuration problem like those of Problems, worded the same way.
type TypeError struct {
	// Problems name the key, the value, where it came from and what a valid
	// value looks like, one per key, sorted by key.
	Problems []string
}

func (e *TypeError) Error() string {
	if len(e.Problems) == 1 {
		return "configuration: " + e.Problems[0]
	}
	return fmt.Sprintf("configuration (%d problems):\n  - %s", len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// decodeHooks are the conversions Load applies to every value.
func decodeHooks() mapstructure.DecodeHookFunc {
	return mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
	)
}

// typeProblems decodes every key of v on its own, as Load does, and words
// the values that do not decode.
func typeProblems(v *viper.Viper) []string {
	types := fieldTypes()
	var p []string
	for _, k := range Keys() {
		t, ok := types[k]
		if !ok {
			continue
		}
		raw := v.Get(k)
		dst := reflect.New(t)
		dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: dst.Interface(), WeaklyTypedInput: true, DecodeHook: decodeHooks()})
		if err != nil {
			continue // the whole decode reports it
		}
		if dec.Decode(raw) == nil {
			continue
		}
		value := ""
		if !SecretKeys[k] {
			value = " " + quoteValue(raw)
		}
		from := ""
		if src := valueSource(v, k); src != "" {
			from = " (" + src + ")"
		}
		p = append(p, fmt.Sprintf("%s%s%s %s", k, value, from, wantedValue(k, t)))
	}
	return p
}

// quoteValue quotes a value for a message, clipped to a readable length.
func quoteValue(raw any) string {
	s := fmt.Sprint(raw)
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60]) + "..."
	}
	return fmt.Sprintf("%q", s)
}

// valueSource names where the effective value of k came from: the
// environment variable that set it, or the config file. Flags are typed, so
// a flag's value always decodes.
func valueSource(v *viper.Viper, k string) string {
	for _, e := range EnvVars(k) {
		if val, ok := os.LookupEnv(e); ok && val != "" {
			return e
		}
	}
	if v.InConfig(k) {
		if f := v.ConfigFileUsed(); f != "" {
			return "in " + f
		}
		return "in the config file"
	}
	return ""
}

// examples are values that make sense for keys whose default does not
// serve as an example.
var examples = map[string]string{
	"notify.smtp.port": "587",
	"shard_count":      "4",
	"account_ids":      "100001,100002",
	"types":            "htmlblock,197",
	"notify.smtp.to":   "ops@example.com,oncall@example.com",
}

// wantedValue says what kind of value k of type t takes, with an example.
func wantedValue(k string, t reflect.Type) string {
	ex := examples[k]
	if ex == "" {
		switch d := Defaults()[k].(type) {
		case string:
			ex = d
		case []string:
			ex = strings.Join(d, ",")
		case bool:
		default:
			if s := fmt.Sprint(d); s != "0" {
				ex = s
			}
		}
	}
	or := func(def string) string {
		if ex == "" {
			return def
		}
		return ex
	}
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "is not a duration: use a number with a unit (ms, s, m, h), e.g. " + or("30m")
	case t.Kind() == reflect.Bool:
		return "is not a boolean: use true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "is not a whole number: e.g. " + or("7")
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "is not a number: e.g. " + or("0.5")
	case t.Kind() == reflect.Slice:
		return "is not a list: comma-separated in the environment, a list in the file, e.g. " + or("a,b")
	default:
		return "is not a single value (a string)"
	}
}
