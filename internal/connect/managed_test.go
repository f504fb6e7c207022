package connect

import (
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/instances"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

func TestAutoManagedInstance(t *testing.T) {
	mi := managedForTest()
	if got, _, err := transport.Auto(mi, transport.Facts{SSM: "Online"}); err != nil || got != transport.NameSSM {
		t.Fatalf("transport.Auto(managed, online) = %q, %v", got, err)
	}
	_, _, err := transport.Auto(mi, transport.Facts{SSM: "ConnectionLost", PublicIP: "127.1.2.3"})
	if err == nil || !strings.Contains(err.Error(), "only the ssm transport reaches") || !strings.Contains(err.Error(), "ConnectionLost") {
		t.Fatalf("transport.Auto(managed, offline) = %v", err)
	}
}

func managedForTest() targets.Instance {
	return instances.ManagedTarget(awsapi.ManagedInstance{ID: "mi-0a1b2c3d4e5f00001", Name: "onprem-1", PingStatus: "Online"})
}
