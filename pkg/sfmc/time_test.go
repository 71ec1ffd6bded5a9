package sfmc

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	cst := time.FixedZone("", -6*3600)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024-07-15T10:02:11.6-06:00", time.Date(2024, 7, 15, 10, 2, 11, 600e6, cst)},
		{"2020-07-20T13:36:50.06-06:00", time.Date(2020, 7, 20, 13, 36, 50, 60e6, cst)},
		{"2023-08-02T07:10:29.553-06:00", time.Date(2023, 8, 2, 7, 10, 29, 553e6, cst)},
		{"2024-01-01T15:09:30-06:00", time.Date(2024, 1, 1, 15, 9, 30, 0, cst)},
		{"2024-01-01T21:09:30Z", time.Date(2024, 1, 1, 15, 9, 30, 0, cst)},
		{"2024-01-01T16:09:30.5+01:00", time.Date(2024, 1, 1, 9, 9, 30, 500e6, cst)},
		{"2024-01-01T15:09:30.123456789-06:00", time.Date(2024, 1, 1, 15, 9, 30, 123456789, cst)},
		// Offset-less values are SFMC server time (-06:00), not UTC or local.
		{"2020-10-20T10:37:59.827", time.Date(2020, 10, 20, 10, 37, 59, 827e6, cst)},
		{"2020-10-20T10:37:59", time.Date(2020, 10, 20, 10, 37, 59, 0, cst)},
		{"2020-07-13", time.Date(2020, 7, 13, 0, 0, 0, 0, cst)},
		{"  2024-07-15T10:02:11.6-06:00\n", time.Date(2024, 7, 15, 10, 2, 11, 600e6, cst)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			if err != nil {
				t.Fatalf("ParseTime: %v", err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseTime(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "2024-13-01T00:00:00-06:00", "2024-07-15 10:02"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q): want an error", bad)
		}
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 7, 15, 16, 2, 11, 600e6, time.UTC), "2024-07-15T10:02:11.600-06:00"},
		{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "2023-12-31T18:00:00.000-06:00"},
		// Sub-millisecond parts are truncated, never rounded up: a ≥ filter
		// must not pass over the instant.
		{time.Date(2024, 7, 15, 16, 2, 11, 999999999, time.UTC), "2024-07-15T10:02:11.999-06:00"},
		// Summer time elsewhere changes nothing: always -06:00.
		{time.Date(2024, 7, 15, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600)), "2024-07-15T04:00:00.000-06:00"},
	}
	for _, tt := range tests {
		if got := FormatTime(tt.in); got != tt.want {
			t.Errorf("FormatTime(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Round trip: the instant survives.
	in := time.Date(2024, 3, 10, 8, 30, 0, 123e6, time.UTC)
	back, err := ParseTime(FormatTime(in))
	if err != nil || !back.Equal(in) {
		t.Errorf("round trip: %s, %v; want %s", back, err, in)
	}
}
