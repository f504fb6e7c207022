package config

import (
	"fmt"

	"github.com/jitssh/jitssh/internal/sandbox/knobs"
)

// checkKnobs validates the latency, throttle and fail rules.
func (f *File) checkKnobs() error {
	if err := knobs.CheckLatency(f.Latency); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if err := knobs.CheckThrottle(f.Throttle); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if err := knobs.CheckFail(f.Fail); err != nil {
		return fmt.Errorf("fail: %w", err)
	}
	return nil
}
