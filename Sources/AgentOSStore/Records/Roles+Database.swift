import AgentOSWire
import GRDB

extension SystemRole: DatabaseValueConvertible {}
extension TeamRole: DatabaseValueConvertible {}
extension ProjectRole: DatabaseValueConvertible {}
extension MessageRole: DatabaseValueConvertible {}
