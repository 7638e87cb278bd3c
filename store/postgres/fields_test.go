package postgres

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// fill sets every exported field of the struct v points to, recursively,
// to a value that is not the zero value and that a store must return
// unchanged: times are whole microseconds in UTC.
func fill(v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2025, 6, 7, 8, 9, 10, 123456000, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), name+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.String:
		v.SetString("value of " + name)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte{0x00, 0x01, 0xfe, 0xff})
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(s.Index(0), name+"[0]")
		fill(s.Index(1), name+"[1]")
		v.Set(s)
	default:
		panic("fill: no value for field " + name + " of kind " + v.Kind().String())
	}
}

// filled returns a T with every field set by fill.
func filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem(), reflect.TypeFor[T]().Name())
	return v
}

// sameJSON reports a difference between the JSON forms of got and want,
// which list every exported field.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s lost or changed a field; a field without a column needs one in a new file in store/postgres/migrations\n got: %s\nwant: %s", what, g, w)
	}
}

// TestEveryFieldStored round-trips records whose every field is set, so a
// field added to a record type without a column here fails this test even
// when the conformance suite does not check that field yet.
func TestEveryFieldStored(t *testing.T) {
	db := openURL(t, newSchema(t), Options{})
	ctx := t.Context()

	t.Run("account", func(t *testing.T) {
		want := filled[store.Account]()
		if err := db.CreateAccount(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetAccount(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "GetAccount", got, want)

		updated, err := db.UpdateAccount(ctx, want.ID, func(a store.Account) (store.Account, error) { return a, nil })
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "UpdateAccount", updated, want)
	})

	t.Run("api key", func(t *testing.T) {
		want := filled[store.APIKey]()
		if err := db.CreateAPIKey(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetAPIKey(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "GetAPIKey", got, want)
	})

	t.Run("operator", func(t *testing.T) {
		want := filled[store.Operator]()
		if err := db.CreateOperator(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetOperator(ctx, want.Name)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "GetOperator", got, want)
	})

	t.Run("webhook and delivery", func(t *testing.T) {
		hook := filled[store.Webhook]()
		if err := db.CreateWebhook(ctx, hook); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetWebhook(ctx, hook.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "GetWebhook", got, hook)

		d := filled[store.Delivery]()
		d.WebhookID = hook.ID
		d.Status = store.DeliveryPending
		appended, err := db.AppendDeliveries(ctx, []store.Delivery{d})
		if err != nil {
			t.Fatal(err)
		}
		d.ID = appended[0].ID
		list, _, err := db.ListDeliveries(ctx, store.DeliveryListOptions{})
		if err != nil || len(list) != 1 {
			t.Fatalf("ListDeliveries = %d deliveries, %v; want 1", len(list), err)
		}
		sameJSON(t, "ListDeliveries", list[0], d)
	})

	t.Run("connect session", func(t *testing.T) {
		want := filled[store.ConnectSession]()
		if err := db.CreateConnectSession(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetConnectSession(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "GetConnectSession", got, want)
	})
	t.Run("audit entry", func(t *testing.T) {
		want := filled[store.AuditEntry]()
		if err := db.AppendAudit(ctx, []store.AuditEntry{want}); err != nil {
			t.Fatal(err)
		}
		got, _, err := db.ListAudit(ctx, store.AuditListOptions{})
		if err != nil || len(got) != 1 {
			t.Fatalf("ListAudit = %d entries, %v; want 1", len(got), err)
		}
		want.ID = got[0].ID
		sameJSON(t, "ListAudit", got[0], want)
	})
}
