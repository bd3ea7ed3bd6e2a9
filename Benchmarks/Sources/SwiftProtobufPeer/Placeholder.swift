// Placeholder: swift-protobuf peer code is generated into this folder.
