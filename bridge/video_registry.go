package bridge

// videoRooms returns the bridge's video rooms.
func (b *Bridge) videoRooms() *videoRooms { return &b.video }
