"""A base-class method calling ``self.helper()``: the overrides the package defines run too."""
