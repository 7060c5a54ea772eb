package grpcapi

import (
	"testing"

	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	labv1 "github.com/benchlab/go-svc/gen/lab/v1"
)

func unmarshal(c encoding.CodecV2, data []byte, m proto.Message) error {
	return c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, m)
}

func TestStrictCodec(t *testing.T) {
	valid, err := proto.Marshal(&labv1.CreateOrderRequest{UserId: 1, Items: []*labv1.OrderItemRequest{{Sku: "SKU-00001", Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	// Field 99, unknown to the schema, is skipped as protobuf requires.
	withUnknown := protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), valid...), 99, protowire.VarintType), 7)
	item := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "A")
	quantityAsBytes := protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), valid...), 2, protowire.BytesType),
		protowire.AppendString(protowire.AppendTag(item, 2, protowire.BytesType), "1"))
	userIDAsFixed := protowire.AppendFixed64(protowire.AppendTag(nil, 1, protowire.Fixed64Type), 1)

	c := StrictCodec()
	for _, tt := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"valid", valid, true},
		{"unknown field", withUnknown, true},
		{"user_id as fixed64", userIDAsFixed, false},
		{"second item's quantity as bytes", quantityAsBytes, false},
		{"truncated", valid[:len(valid)-1], false},
	} {
		var got labv1.CreateOrderRequest
		if err := unmarshal(c, tt.data, &got); (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok %v", tt.name, err, tt.ok)
		}
	}

	// A repeated scalar may come packed or not (no lab request has one).
	packed := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{1, 2, 3})
	unpacked := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1)
	fixed := protowire.AppendFixed32(protowire.AppendTag(nil, 1, protowire.Fixed32Type), 1)
	for name, data := range map[string][]byte{"packed": packed, "unpacked": unpacked, "fixed32": fixed} {
		var loc descriptorpb.SourceCodeInfo_Location
		if err := unmarshal(c, data, &loc); (err == nil) != (name != "fixed32") {
			t.Errorf("repeated int32 %s: %v", name, err)
		}
	}
}

// FuzzStrictCodec: the strict codec refuses exactly what grpc-go's refuses,
// plus messages where protobuf-go kept a declared field number as unknown.
func FuzzStrictCodec(f *testing.F) {
	valid, _ := proto.Marshal(&labv1.CreateOrderRequest{UserId: 1, Items: []*labv1.OrderItemRequest{{Sku: "SKU-00001", Quantity: 2}, {}}})
	for _, seed := range [][]byte{valid, {0x08, 0xff}, {0x0f, 0x01}, {0x0a, 0x01, '1'}, {0x98, 0x06, 0x01, 0x08, 0x01},
		{0x08, 0x01, 0x12, 0x06, 0x0a, 0x01, 'A', 0x12, 0x01, '1'}, {0x08, 0x01, 0x12, 0x05, 0x0a, 0x01, 0xff, 0x10, 0x01}} {
		f.Add(seed)
	}
	strict, loose := StrictCodec(), encoding.GetCodecV2(protoenc.Name)
	f.Fuzz(func(t *testing.T, data []byte) {
		var s, l labv1.CreateOrderRequest
		strictErr, looseErr := unmarshal(strict, data, &s), unmarshal(loose, data, &l)
		if looseErr != nil {
			if strictErr == nil {
				t.Fatalf("strict accepts what grpc-go refuses: %v", looseErr)
			}
			return
		}
		misplaced := declaredUnknown(l.ProtoReflect())
		for _, it := range l.Items {
			misplaced = misplaced || declaredUnknown(it.ProtoReflect())
		}
		if (strictErr != nil) != misplaced {
			t.Fatalf("strict: %v; declared field kept as unknown: %v", strictErr, misplaced)
		}
		if strictErr == nil && !proto.Equal(&s, &l) {
			t.Fatalf("strict read %v, grpc-go %v", &s, &l)
		}
	})
}

// declaredUnknown: protobuf-go kept a field of m with a declared number as
// unknown, which it does when the wire type does not fit.
func declaredUnknown(m protoreflect.Message) bool {
	fields := m.Descriptor().Fields()
	for b := m.GetUnknown(); len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if fields.ByNumber(num) != nil {
			return true
		}
		b = b[n:]
		b = b[protowire.ConsumeFieldValue(num, typ, b):]
	}
	return false
}
